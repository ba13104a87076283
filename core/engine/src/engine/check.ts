import {setImmediate} from 'node:timers/promises'
import {BlobType} from '../format/blob-type.js'
import {openState} from '../format/state.js'
import type {Repository} from '../repository/repository.js'
import {isFatal, mapConcurrent, readAll} from '@plakar/sdk'
import {Snapshot} from './snapshot.js'
import {PackVerifier, packWindows, WINDOWS_IN_FLIGHT, type PackRow} from './check-packs.js'
import {decodeEntry, type Entry} from '../tree/entry.js'
import {keyToPath} from '../tree/path-key.js'

export interface CheckProblem {
  /** What is damaged: a state, a packfile, a snapshot's tree, or a file of a snapshot. */
  kind: 'state' | 'packfile' | 'snapshot' | 'file'
  message: string
  snapshot?: string
  path?: string
  packfile?: string
  state?: string
}

export interface CheckProgress {
  phase: 'index' | 'data' | 'files'
  /** Files walked (index phase) or packfiles verified (data phase). */
  done: number
  total: number
  /** Data phase: bytes of packfiles read and verified, out of about `totalBytes`. */
  bytes?: number
  totalBytes?: number
}

export interface CheckTarget {
  snapshot: Snapshot
  path: string
}

export interface CheckOptions {
  /** Only check that every blob is indexed and every packfile exists; read no data. */
  fast?: boolean
  concurrency?: number
  onProgress?: (progress: CheckProgress) => void
  onProblem?: (problem: CheckProblem) => void
  /** Problems found before the check started (unreadable snapshot headers). */
  problems?: CheckProblem[]
  /**
   * The targets are every snapshot of the repository: verify every live packfile, and start
   * reading them while the trees are still being walked, instead of only those the walk finds.
   */
  wholeRepository?: boolean
  /** Stops the check (Ctrl-C): it ends with the signal's reason, reading nothing more. */
  signal?: AbortSignal
}

export interface CheckResult {
  problems: CheckProblem[]
  snapshots: number
  files: number
  packfiles: number
  bytes: number
}

/**
 * The walk lets the event loop run at least this often. Its awaits mostly resolve at once (tree
 * nodes read ahead, chunk lists in memory), so it can run for a second as microtasks alone:
 * meanwhile no packfile read completes and no reply of the decoding worker is taken, and the
 * worker sat idle for 0.8 s of a 3 s check of a source tree.
 */
const WALK_TURN_MS = 4

const blobKey = (type: number, mac: Uint8Array) => `${type}:${Buffer.from(mac).toString('hex')}`

/** A blob of a file's content, as problems name it. */
const what = (type: number, mac: Uint8Array) => (type === BlobType.OBJECT ? 'its chunk list' : `chunk ${Buffer.from(mac).toString('hex').slice(0, 16)}`)

/**
 * Verifies snapshots. Phase 1 reads every file tree and index (which authenticates their nodes)
 * and checks that each chunk is indexed in a packfile that exists. Phase 2 (full mode) reads every packfile
 * those snapshots use, checks its MAC, and opens, decompresses and re-MACs every blob in it.
 * Phase 3 names each file whose content touches a missing or damaged blob. Memory holds the
 * sets of packfiles, of tree nodes and of unusable blobs, never one entry per file.
 *
 * When every snapshot is checked (`wholeRepository`), phase 2 covers every live packfile of the
 * index, reports those missing from the storage, and runs alongside phase 1: the walk (main
 * thread) and the verification (decoding workers) overlap instead of taking turns. A fatal error
 * on either side stops the other before the check fails with it.
 */
export function check(repo: Repository, targets: CheckTarget[], options: CheckOptions = {}): Promise<CheckResult> {
  return new Checker(repo, targets, options).run()
}

/** One check run: its findings so far and the phases that make them. */
class Checker {
  readonly #repo: Repository
  readonly #targets: CheckTarget[]
  readonly #options: CheckOptions
  readonly #problems: CheckProblem[] = []
  /** Packfiles the storage holds. */
  readonly #present = new Set<string>()
  /** Packfiles the walk found the checked trees and files using. */
  readonly #referenced = new Set<string>()
  /** Blobs a file needs that cannot be used, with why: missing from the index or storage, or corrupted. */
  readonly #unusable = new Map<string, string>()
  /** Chunk references waiting to be looked up in the index, many per query. */
  #chunkRefs: Buffer[] = []
  #files = 0
  #bytes = 0
  #verified = 0
  /** Set when the check fails: pending verifications return at once. */
  #stopped = false
  #verifyFailure: unknown
  /** Reads and opens the packfiles of phase 2; made with the first. */
  #packVerifier: PackVerifier | undefined
  /** Set when phase 1 (the walk) is over: this thread then opens packfile slices whenever any wait. */
  #walked = false
  /** Files the walk will meet, for #mayOpenSlices (summaries of the snapshots: shared subtrees counted in each). */
  #filesToWalk = 0
  /** Packfiles phase 2 verifies, when it runs beside the walk. */
  #packsToVerify = 0

  /**
   * Whether this thread, which walks the trees, should also open packfile slices: only while
   * the data is no further along than the walk, so that the two end together (opening slices
   * whenever the worker had enough, it left the worker idle for the last 2 s of a 19 s check of
   * 300,000 files while it finished walking).
   */
  #mayOpenSlices(): boolean {
    if (this.#walked || this.#packsToVerify === 0 || this.#filesToWalk === 0) return true
    return this.#verified / this.#packsToVerify <= this.#files / this.#filesToWalk
  }

  /** When the walk last let the event loop run (WALK_TURN_MS). */
  #turnAt = 0
  /** Set once phase 2 covers every live packfile of the index (whole repository, full check). */
  #everyPackVerified = false

  /** Files to walk, when known (one target: its snapshot's summary); 0 otherwise. */
  readonly #totalFiles: number

  constructor(repo: Repository, targets: CheckTarget[], options: CheckOptions) {
    this.#repo = repo
    this.#targets = targets
    this.#options = options
    this.#totalFiles = targets.length === 1 ? targets[0].snapshot.header.summary.files : 0
  }

  async run(): Promise<CheckResult> {
    const options = this.#options
    options.signal?.throwIfAborted()
    for (const problem of options.problems ?? []) this.#report(problem)
    for (const damaged of this.#repo.damagedStates) {
      this.#report({kind: 'state', state: damaged.id, message: `state ${damaged.id} is damaged: ${damaged.error}`})
    }
    // Reported once: the repository as it stands is consistent, and a later check says so.
    const vanished = this.#repo.cache.vanishedStates()
    for (const {id, noticed} of vanished) {
      this.#report({
        kind: 'state',
        state: id,
        message: `state ${id}, which this client had read, was deleted from the storage (noticed ${new Date(noticed).toISOString()}) and no compaction replaced it: the snapshots or deletions it recorded are lost`,
      })
    }
    // Every packfile's blobs and every chunk of every file are looked up, in no useful order.
    this.#repo.cache.readMapped()
    if (!options.fast) this.#packVerifier = new PackVerifier(this.#repo, () => this.#mayOpenSlices())
    // The states are read again beside the rest: on 300,000 small files they took 1-1.5 s of
    // this thread before anything else started, the decoding worker idle meanwhile. A fatal
    // error there (an unreachable storage) stops the walk like one of the verification.
    const checkingStates = this.#checkStates().catch((error: unknown) => {
      this.#verifyFailure ??= error
      throw error
    })
    checkingStates.catch(() => {})
    try {
      return await this.#rest(vanished, checkingStates)
    } catch (error) {
      // Nothing may keep reading a repository the caller is about to close.
      this.#stopped = true
      await Promise.allSettled([checkingStates])
      throw error
    }
  }

  /** Phases 1 to 3, once the states are being read (`checkingStates`). */
  async #rest(vanished: {id: string}[], checkingStates: Promise<void>): Promise<CheckResult> {
    const options = this.#options
    for await (const id of this.#repo.storage.list('packfile')) this.#present.add(id)

    const early = !options.fast && options.wholeRepository === true
    const everyPack = early ? this.#livePacksPresent() : []
    this.#everyPackVerified = early
    this.#packsToVerify = everyPack.length
    this.#filesToWalk = this.#targets.reduce((n, t) => n + (t.path === t.snapshot.root ? t.snapshot.header.summary.files : 0), 0)
    const verifying = early
      ? this.#verifyAll(everyPack).catch((error: unknown) => {
          this.#verifyFailure = error
          throw error
        })
      : undefined
    // Rejections are taken up below; do not let one count as unhandled meanwhile.
    verifying?.catch(() => {})

    try {
      await this.#walk()
      this.#walked = true
      this.#packVerifier?.pump()
    } catch (error) {
      // Nothing may keep reading a repository the caller is about to close.
      this.#stopped = true
      if (verifying) await Promise.allSettled([verifying])
      throw error
    }

    if (verifying) {
      // Every live packfile present in the storage: all that the walk can have referenced.
      await verifying
    } else if (!options.fast) {
      await this.#verifyAll([...this.#referenced])
    }
    await checkingStates
    if (this.#unusable.size > 0) await this.#nameDamagedFiles()
    this.#repo.cache.forgetVanishedStates(vanished.map((v) => v.id))
    return {
      problems: this.#problems,
      snapshots: this.#targets.length,
      files: this.#files,
      packfiles: verifying ? everyPack.length : this.#referenced.size,
      bytes: this.#bytes,
    }
  }

  #report(problem: CheckProblem): void {
    this.#problems.push(problem)
    this.#options.onProblem?.(problem)
  }

  /**
   * The local cache trusts the states it merged earlier: read every state again, so that damage
   * done since (a truncated or altered state) is found by a client that has seen it before.
   */
  async #checkStates(): Promise<void> {
    const repo = this.#repo
    const alreadyDamaged = new Set(repo.damagedStates.map((d) => d.id))
    const states: string[] = []
    for await (const id of repo.storage.list('state')) if (!alreadyDamaged.has(id)) states.push(id)
    await mapConcurrent(states, Math.max(1, Math.min(this.#options.concurrency ?? 4, 8)), async (id) => {
      this.#options.signal?.throwIfAborted()
      try {
        openState(repo.keys, id, await readAll(await repo.storage.get('state', id)))
      } catch (error) {
        if (this.#rethrows(error)) throw error
        this.#report({kind: 'state', state: id, message: `state ${id} is damaged: ${(error as Error).message}`})
      }
    })
  }

  /**
   * Every live packfile of the index that the storage holds. One listed by a state and not
   * deleted, yet gone, is a problem: whatever its blobs serve is lost, and a later backup would
   * deduplicate against them.
   */
  #livePacksPresent(): string[] {
    const packs: string[] = []
    for (const {id} of this.#repo.cache.packfiles()) {
      if (this.#present.has(id)) {
        packs.push(id)
        continue
      }
      this.#report({kind: 'packfile', packfile: id, message: `packfile ${id} is missing from the storage`})
      // The walk looks up only whether a chunk is indexed (#lookUpChunks): what a missing
      // packfile held is named here.
      for (const b of this.#repo.cache.blobsOfPack(id)) this.#markUnusable(blobKey(b.type, b.mac), `packfile ${id.slice(0, 16)} holding ${what(b.type, b.mac)} is missing`)
    }
    return packs
  }

  /** Records why a blob cannot be used, unless a reason was found first. */
  #markUnusable(key: string, why: string): void {
    if (!this.#unusable.has(key)) this.#unusable.set(key, why)
  }

  #locatedIn(key: string, pack: string | undefined, what: string): void {
    if (!pack) this.#unusable.set(key, `${what} is missing from the index`)
    else if (!this.#present.has(pack)) this.#unusable.set(key, `packfile ${pack.slice(0, 16)} holding ${what} is missing`)
    else this.#referenced.add(pack)
  }

  #lookUpChunks(): void {
    if (this.#everyPackVerified) {
      // Every live packfile present is verified and the blobs of those missing are already
      // unusable (#livePacksPresent): only a chunk indexed nowhere remains to be found, and
      // SQLite answers that without a row per chunk (check of a source tree: the lookups were
      // 12 % of the main thread).
      for (const mac of this.#repo.cache.unindexed(BlobType.CHUNK, this.#chunkRefs)) {
        this.#unusable.set(blobKey(BlobType.CHUNK, mac), `${what(BlobType.CHUNK, mac)} is missing from the index`)
      }
      this.#chunkRefs = []
      return
    }
    const packs = this.#repo.cache.packsOf(BlobType.CHUNK, this.#chunkRefs)
    for (const mac of this.#chunkRefs) {
      const hex = mac.toString('hex')
      this.#locatedIn(`${BlobType.CHUNK}:${hex}`, packs.get(hex), `chunk ${hex.slice(0, 16)}`)
    }
    this.#chunkRefs = []
  }

  /** Records in `unusable` every blob of a file's content that is not there. */
  async #checkContent(snapshot: Snapshot, entry: Entry): Promise<void> {
    if (entry.object) {
      const key = blobKey(BlobType.OBJECT, entry.object)
      if (!this.#unusable.has(key)) this.#locatedIn(key, this.#repo.cache.locate(BlobType.OBJECT, Buffer.from(entry.object))?.pack, 'its chunk list')
      if (this.#unusable.has(key)) return
    }
    let refs
    try {
      refs = await snapshot.chunks(entry)
    } catch (error) {
      if (isFatal(error)) throw error
      if (entry.object) this.#unusable.set(blobKey(BlobType.OBJECT, entry.object), `its chunk list is unreadable: ${(error as Error).message}`)
      return
    }
    for (const [mac] of refs) this.#chunkRefs.push(Buffer.isBuffer(mac) ? mac : Buffer.from(mac))
    if (this.#chunkRefs.length >= 1024) this.#lookUpChunks()
  }

  /** A file of the walk is checked; the walk stops as soon as the verification beside it has failed. */
  async #checkFile(snapshot: Snapshot, entry: Entry): Promise<void> {
    this.#options.signal?.throwIfAborted()
    if (performance.now() - this.#turnAt >= WALK_TURN_MS) {
      // Whether this thread should open slices of packfiles may have changed (#mayOpenSlices).
      this.#packVerifier?.pump()
      await setImmediate()
      this.#turnAt = performance.now()
    }
    await this.#checkContent(snapshot, entry)
    // Either may have happened while the chunk list was read.
    this.#options.signal?.throwIfAborted()
    if (this.#verifyFailure !== undefined) throw this.#verifyFailure
    this.#files++
    this.#options.onProgress?.({phase: 'index', done: this.#files, total: this.#totalFiles})
  }

  /** Errors that end the check instead of being reported as damage: an interruption is one. */
  #rethrows(error: unknown): boolean {
    return error === this.#verifyFailure || isFatal(error) || (this.#options.signal?.aborted === true && error === this.#options.signal.reason)
  }

  /**
   * Phase 1. Whole snapshots are read node by node, and a node shared with a snapshot already
   * checked (an unchanged subtree) is skipped: ten snapshots of one tree cost little more than one.
   */
  async #walk(): Promise<void> {
    const repo = this.#repo
    const seen = new Set<string>()
    for (const {snapshot, path} of this.#targets) {
      const sid = snapshot.id
      try {
        if (path === snapshot.root) {
          // A damaged node is reported and walked around: the rest of the snapshot is checked.
          const damagedNode = ({firstKey, error}: {firstKey?: Buffer; error: unknown}) => {
            if (this.#rethrows(error)) throw error
            const where = firstKey ? `the entries from ${keyToPath(firstKey)} on, up to the next node, are lost` : 'its root is lost'
            this.#report({kind: 'snapshot', snapshot: sid, message: `snapshot ${sid.slice(0, 8)}: a node of its file tree is damaged (${(error as Error).message}): ${where}`})
          }
          for await (const node of snapshot.vfs.nodes((mac) => seen.has(mac.toString('hex')), damagedNode)) {
            this.#options.signal?.throwIfAborted()
            seen.add(node.mac.toString('hex'))
            // Its metadata packfile is verified whole in phase 2, like the data packfiles (all of
            // them already, when every live packfile is).
            if (!this.#everyPackVerified) {
              const loc = repo.cache.locate(BlobType.VFS_NODE, node.mac)
              if (loc) this.#referenced.add(loc.pack)
            }
            if (node.level > 0) continue
            for (const [, value] of node.entries) {
              const entry = decodeEntry(value)
              if (entry.info.type !== 'file' || entry.error) continue
              await this.#checkFile(snapshot, entry)
            }
          }
          // The indexes (locate, search by type) are read node by node too: reading authenticates.
          for (const [what, tree] of [['name index', snapshot.names], ['type index', snapshot.types]] as const) {
            try {
              const type = what === 'name index' ? BlobType.NAME_NODE : BlobType.TYPE_NODE
              for await (const node of tree.nodes((mac) => seen.has(`${what}:${mac.toString('hex')}`))) {
                seen.add(`${what}:${node.mac.toString('hex')}`)
                if (this.#everyPackVerified) continue
                const loc = repo.cache.locate(type, node.mac)
                if (loc) this.#referenced.add(loc.pack)
              }
            } catch (error) {
              if (this.#rethrows(error)) throw error
              this.#report({kind: 'snapshot', snapshot: sid, message: `snapshot ${sid.slice(0, 8)}: its ${what} is damaged: ${(error as Error).message}`})
            }
          }
        } else {
          const lost = (from: string, error: unknown) => {
            if (this.#rethrows(error)) throw error
            this.#report({kind: 'snapshot', snapshot: sid, message: `snapshot ${sid.slice(0, 8)}: a node of its file tree is damaged (${(error as Error).message}): the entries from ${from} on, up to the next node, are lost`})
          }
          for await (const [, entry] of snapshot.walk(path, lost)) {
            if (entry.info.type !== 'file' || entry.error) continue
            await this.#checkFile(snapshot, entry)
          }
        }
      } catch (error) {
        if (this.#rethrows(error)) throw error
        this.#report({kind: 'snapshot', snapshot: sid, message: `snapshot ${sid.slice(0, 8)}: its file tree is damaged: ${(error as Error).message}`})
      }
    }
    this.#lookUpChunks()
  }

  #verifyAll(packs: string[]): Promise<void[]> {
    // For the progress shown only: a pass over the whole index (0.5 s of this thread on
    // 300,000 small files, before the first packfile was read).
    let totalBytes: number | undefined
    if (this.#options.onProgress) {
      const bytesOf = this.#repo.cache.blobBytesByPack()
      totalBytes = packs.reduce((n, pack) => n + (bytesOf.get(pack) ?? 0), 0)
    }
    // Two packfiles in flight, each read in windows (#verifyPack): one being read while the
    // other is verified.
    return mapConcurrent(packs, 2, (pack) => this.#verifyPack(pack, packs.length, totalBytes))
  }

  /**
   * Phase 2, one packfile: read in windows (PackVerifier), its MAC computed over them in order,
   * every blob opened.
   */
  async #verifyPack(pack: string, totalPacks: number, totalBytes: number | undefined): Promise<void> {
    const repo = this.#repo
    if (this.#stopped) return
    this.#options.signal?.throwIfAborted()
    const verifier = (this.#packVerifier ??= new PackVerifier(repo, () => this.#mayOpenSlices()))
    const errors = new Map<number, string>()
    /** Windows read and not yet verified, oldest first. */
    const verifying: Promise<void>[] = []
    let rows: PackRow[] = []
    try {
      await repo.reader.ready(pack)
      const {size} = await repo.storage.stat('packfile', pack)
      rows = repo.cache.blobListOfPack(pack)
      const mac = repo.keys.objectMac.stream()
      for (const window of packWindows(rows, size)) {
        if (verifying.length >= WINDOWS_IN_FLIGHT) await verifying.shift()
        if (this.#stopped) break
        this.#options.signal?.throwIfAborted()
        const {bytes, release} = await verifier.read(pack, size, window)
        mac.update(bytes)
        this.#bytes += bytes.length
        const verified = verifier.verify(bytes, rows, window).then((found) => {
          for (const [index, why] of found) errors.set(index, why)
        })
        // Settled before the memory goes back to the pool, even when it failed. Marked handled
        // now: it may fail while the next window is being read, before anything awaits it, and
        // an unhandled rejection would end the process; it is still awaited below.
        const settled = verified.finally(release)
        settled.catch(() => {})
        verifying.push(settled)
      }
      if (this.#stopped) {
        await Promise.allSettled(verifying)
        return
      }
      if (mac.digest().toString('hex') !== pack) {
        this.#report({kind: 'packfile', packfile: pack, message: `packfile ${pack} does not match its id: it is corrupted`})
      }
      await Promise.all(verifying)
    } catch (error) {
      await Promise.allSettled(verifying)
      // An unreachable storage is not a damaged repository: stop with that error.
      if (this.#rethrows(error)) throw error
      this.#report({kind: 'packfile', packfile: pack, message: `packfile ${pack} is unreadable: ${(error as Error).message}`})
      for (const b of repo.cache.blobsOfPack(pack)) this.#unusable.set(blobKey(b.type, b.mac), `packfile ${pack.slice(0, 16)} is unreadable`)
      return
    }
    this.#options.signal?.throwIfAborted()
    for (const index of errors.keys()) {
      const [hex, type] = rows[index]
      // The walk may have found the damage first (a chunk list it could not read): keep that.
      this.#markUnusable(`${type}:${hex}`, `${what(type, Buffer.from(hex, 'hex'))} is corrupted`)
    }
    this.#verified++
    this.#options.onProgress?.({phase: 'data', done: this.#verified, total: totalPacks, bytes: this.#bytes, totalBytes})
  }

  /**
   * Phase 3, only when something is wrong: name every file of every snapshot that needs an
   * unusable blob (a full walk: shared subtrees count for each snapshot holding them).
   */
  async #nameDamagedFiles(): Promise<void> {
    for (const {snapshot, path} of this.#targets) {
      const sid = snapshot.id
      try {
        // Damaged nodes were reported by phase 1: walk around them.
        for await (const [p, entry] of snapshot.walk(path, () => {})) {
          this.#options.signal?.throwIfAborted()
          if (entry.info.type !== 'file' || entry.error) continue
          const why = await whyUnusable(snapshot, entry, this.#unusable)
          if (why) this.#report({kind: 'file', snapshot: sid, path: p, message: `snapshot ${sid.slice(0, 8)}: ${p}: ${why}`})
        }
      } catch (error) {
        if (this.#rethrows(error)) throw error
        // A damaged tree was reported in phase 1.
      }
    }
  }
}

/** Every live snapshot as a check target; snapshots whose header is unreadable are problems. */
export async function allSnapshots(repo: Repository): Promise<{targets: CheckTarget[]; problems: CheckProblem[]}> {
  const targets: CheckTarget[] = []
  const problems: CheckProblem[] = []
  for (const row of repo.cache.snapshots()) {
    const id = row.id.toString('hex')
    try {
      const header = await repo.snapshotHeader(row.id, row.header)
      targets.push({snapshot: new Snapshot(repo, header), path: header.importer.root})
    } catch (error) {
      problems.push({kind: 'snapshot', snapshot: id, message: `snapshot ${id.slice(0, 8)}: its header is unreadable: ${(error as Error).message}`})
    }
  }
  return {targets, problems}
}

async function whyUnusable(snapshot: Snapshot, entry: Entry, unusable: Map<string, string>): Promise<string | undefined> {
  if (entry.object) {
    const why = unusable.get(blobKey(BlobType.OBJECT, entry.object))
    if (why) return why
  }
  let refs
  try {
    refs = await snapshot.chunks(entry)
  } catch (error) {
    return `its chunk list is unreadable: ${(error as Error).message}`
  }
  for (const [mac] of refs) {
    const why = unusable.get(blobKey(BlobType.CHUNK, mac))
    if (why) return why
  }
  return undefined
}

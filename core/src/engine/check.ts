import {BlobType} from '../format/blob-type.js'
import {openState} from '../format/state.js'
import type {Repository} from '../repository/repository.js'
import {mapConcurrent} from '../util/concurrency.js'
import {readAll} from '../util/streams.js'
import {decoderFor} from './decode-pool.js'
import {Snapshot} from './snapshot.js'
import {decodeEntry, type Entry} from '../tree/entry.js'

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
}

export interface CheckResult {
  problems: CheckProblem[]
  snapshots: number
  files: number
  packfiles: number
  bytes: number
}

const blobKey = (type: number, mac: Uint8Array) => `${type}:${Buffer.from(mac).toString('hex')}`

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
export async function check(repo: Repository, targets: CheckTarget[], options: CheckOptions = {}): Promise<CheckResult> {
  const problems: CheckProblem[] = []
  const report = (problem: CheckProblem) => {
    problems.push(problem)
    options.onProblem?.(problem)
  }
  for (const problem of options.problems ?? []) report(problem)
  for (const damaged of repo.damagedStates) {
    report({kind: 'state', state: damaged.id, message: `state ${damaged.id} is damaged: ${damaged.error}`})
  }
  // The local cache trusts the states it merged earlier: read every state again, so that damage
  // done since (a truncated or altered state) is found by a client that has seen it before.
  const alreadyDamaged = new Set(repo.damagedStates.map((d) => d.id))
  const states: string[] = []
  for await (const id of repo.storage.list('state')) if (!alreadyDamaged.has(id)) states.push(id)
  await mapConcurrent(states, Math.max(1, Math.min(options.concurrency ?? 4, 8)), async (id) => {
    try {
      openState(repo.keys, id, await readAll(await repo.storage.get('state', id)))
    } catch (error) {
      if ((error as {fatal?: unknown})?.fatal === true) throw error
      report({kind: 'state', state: id, message: `state ${id} is damaged: ${(error as Error).message}`})
    }
  })

  const present = new Set<string>()
  for await (const id of repo.storage.list('packfile')) present.add(id)

  const referenced = new Set<string>()
  /** Blobs a file needs that cannot be used, with why: missing from the index or storage, or corrupted. */
  const unusable = new Map<string, string>()
  let files = 0
  const total = targets.length === 1 ? targets[0].snapshot.header.summary.files : undefined

  const locatedIn = (key: string, pack: string | undefined, what: string) => {
    if (!pack) unusable.set(key, `${what} is missing from the index`)
    else if (!present.has(pack)) unusable.set(key, `packfile ${pack.slice(0, 16)} holding ${what} is missing`)
    else referenced.add(pack)
  }
  /** Chunk references waiting to be looked up in the index, many per query. */
  let chunkRefs: Buffer[] = []
  const lookUpChunks = () => {
    const packs = repo.cache.packsOf(BlobType.CHUNK, chunkRefs)
    for (const mac of chunkRefs) {
      const hex = mac.toString('hex')
      locatedIn(`${BlobType.CHUNK}:${hex}`, packs.get(hex), `chunk ${hex.slice(0, 16)}`)
    }
    chunkRefs = []
  }

  /** Records in `unusable` every blob of a file's content that is not there. */
  const checkContent = async (snapshot: Snapshot, entry: Entry) => {
    if (entry.object) {
      const key = blobKey(BlobType.OBJECT, entry.object)
      if (!unusable.has(key)) locatedIn(key, repo.cache.locate(BlobType.OBJECT, Buffer.from(entry.object))?.pack, 'its chunk list')
      if (unusable.has(key)) return
    }
    let refs
    try {
      refs = await snapshot.chunks(entry)
    } catch (error) {
      if ((error as {fatal?: unknown})?.fatal === true) throw error
      if (entry.object) unusable.set(blobKey(BlobType.OBJECT, entry.object), `its chunk list is unreadable: ${(error as Error).message}`)
      return
    }
    for (const [mac] of refs) chunkRefs.push(Buffer.from(mac))
    if (chunkRefs.length >= 1024) lookUpChunks()
  }

  let bytes = 0
  let verified = 0
  /** Phase 2, one packfile: read whole, MAC checked, every blob opened on the decoding workers. */
  const verifyPack = async (pack: string, totalPacks: number, totalBytes: number) => {
    if (stopped) return
    let data: Buffer
    try {
      data = await readAll(await repo.storage.get('packfile', pack))
    } catch (error) {
      // An unreachable storage is not a damaged repository: stop with that error.
      if ((error as {fatal?: unknown})?.fatal === true) throw error
      report({kind: 'packfile', packfile: pack, message: `packfile ${pack} is unreadable: ${(error as Error).message}`})
      for (const b of repo.cache.blobsOfPack(pack)) unusable.set(blobKey(b.type, b.mac), `packfile ${pack.slice(0, 16)} is unreadable`)
      return
    }
    if (stopped) return
    bytes += data.length
    if (repo.keys.objectMac.digest(data).toString('hex') !== pack) {
      report({kind: 'packfile', packfile: pack, message: `packfile ${pack} does not match its id: it is corrupted`})
    }
    // Verified on the decoding workers; the packfile's bytes move there (MAC them first).
    const blobs = repo.cache.blobsOfPack(pack)
    const {errors} = await decoderFor(repo).decode(data, blobs, true)
    for (const index of errors.keys()) {
      const b = blobs[index]
      const key = blobKey(b.type, b.mac)
      // The walk may have found the damage first (a chunk list it could not read): keep that.
      if (!unusable.has(key)) unusable.set(key, `${b.type === BlobType.OBJECT ? 'its chunk list' : `chunk ${b.mac.toString('hex').slice(0, 16)}`} is corrupted`)
    }
    verified++
    options.onProgress?.({phase: 'data', done: verified, total: totalPacks, bytes, totalBytes})
  }
  const verifyAll = (packs: string[]) => {
    const totalBytes = packs.reduce((n, pack) => n + repo.cache.blobBytesOfPack(pack), 0)
    // Two packfiles in flight: one being read while the other is verified, 16 MiB each.
    return mapConcurrent(packs, 2, (pack) => verifyPack(pack, packs.length, totalBytes))
  }
  /** Set when the check fails: pending verifications return at once. */
  let stopped = false
  let verifyFailure: unknown
  const early = !options.fast && options.wholeRepository === true
  const everyPack: string[] = []
  if (early) {
    for (const {id} of repo.cache.packfiles()) {
      if (present.has(id)) {
        everyPack.push(id)
        continue
      }
      // Listed by a state and not deleted, yet gone: whatever its blobs serve is lost, and a
      // later backup would deduplicate against them.
      report({kind: 'packfile', packfile: id, message: `packfile ${id} is missing from the storage`})
      for (const b of repo.cache.blobsOfPack(id)) {
        const key = blobKey(b.type, b.mac)
        if (!unusable.has(key)) unusable.set(key, `packfile ${id.slice(0, 16)} is missing`)
      }
    }
  }
  const verifying = early
    ? verifyAll(everyPack).catch((error: unknown) => {
        verifyFailure = error
        throw error
      })
    : undefined
  // Rejections are taken up below; do not let one count as unhandled meanwhile.
  verifying?.catch(() => {})
  /** The walk stops as soon as the verification running beside it has failed. */
  const stopIfVerifyFailed = () => {
    if (verifyFailure !== undefined) throw verifyFailure
  }
  const rethrows = (error: unknown) => error === verifyFailure || (error as {fatal?: unknown})?.fatal === true

  // Phase 1. Whole snapshots are read node by node, and a node shared with a snapshot already
  // checked (an unchanged subtree) is skipped: ten snapshots of one tree cost little more than one.
  const seen = new Set<string>()
  try {
    await walkAll()
  } catch (error) {
    // Nothing may keep reading a repository the caller is about to close.
    stopped = true
    if (verifying) await Promise.allSettled([verifying])
    throw error
  }
  async function walkAll(): Promise<void> {
    for (const {snapshot, path} of targets) {
      const sid = snapshot.id
      try {
        if (path === snapshot.root) {
          for await (const node of snapshot.vfs.nodes((mac) => seen.has(mac.toString('hex')))) {
            seen.add(node.mac.toString('hex'))
            // Its metadata packfile is verified whole in phase 2, like the data packfiles.
            const loc = repo.cache.locate(BlobType.VFS_NODE, node.mac)
            if (loc) referenced.add(loc.pack)
            if (node.level > 0) continue
            for (const [, value] of node.entries) {
              const entry = decodeEntry(value)
              if (entry.info.type !== 'file' || entry.error) continue
              await checkContent(snapshot, entry)
              stopIfVerifyFailed()
              files++
              options.onProgress?.({phase: 'index', done: files, total: total ?? 0})
            }
          }
          // The indexes (locate, search by type) are read node by node too: reading authenticates.
          for (const [what, tree] of [['name index', snapshot.names], ['type index', snapshot.types]] as const) {
            try {
              const type = what === 'name index' ? BlobType.NAME_NODE : BlobType.TYPE_NODE
              for await (const node of tree.nodes((mac) => seen.has(`${what}:${mac.toString('hex')}`))) {
                seen.add(`${what}:${node.mac.toString('hex')}`)
                const loc = repo.cache.locate(type, node.mac)
                if (loc) referenced.add(loc.pack)
              }
            } catch (error) {
              if (rethrows(error)) throw error
              report({kind: 'snapshot', snapshot: sid, message: `snapshot ${sid.slice(0, 8)}: its ${what} is damaged: ${(error as Error).message}`})
            }
          }
        } else {
          for await (const [, entry] of snapshot.walk(path)) {
            if (entry.info.type !== 'file' || entry.error) continue
            await checkContent(snapshot, entry)
            stopIfVerifyFailed()
            files++
            options.onProgress?.({phase: 'index', done: files, total: total ?? 0})
          }
        }
      } catch (error) {
        if (rethrows(error)) throw error
        report({kind: 'snapshot', snapshot: sid, message: `snapshot ${sid.slice(0, 8)}: its file tree is damaged: ${(error as Error).message}`})
      }
    }

    lookUpChunks()
  }

  if (verifying) {
    // Every live packfile present in the storage: all that the walk can have referenced.
    await verifying
  } else if (!options.fast) {
    await verifyAll([...referenced])
  }

  // Phase 3, only when something is wrong: name every file of every snapshot that needs an
  // unusable blob (a full walk: shared subtrees count for each snapshot holding them).
  if (unusable.size > 0) {
    for (const {snapshot, path} of targets) {
      const sid = snapshot.id
      try {
        for await (const [p, entry] of snapshot.walk(path)) {
          if (entry.info.type !== 'file' || entry.error) continue
          const why = await whyUnusable(snapshot, entry, unusable)
          if (why) report({kind: 'file', snapshot: sid, path: p, message: `snapshot ${sid.slice(0, 8)}: ${p}: ${why}`})
        }
      } catch {
        // A damaged tree was reported in phase 1.
      }
    }
  }
  return {problems, snapshots: targets.length, files, packfiles: verifying ? everyPack.length : referenced.size, bytes}
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

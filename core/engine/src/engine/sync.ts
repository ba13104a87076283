import Database from 'better-sqlite3'
import {mkdtempSync, rmSync} from 'node:fs'
import {availableParallelism, hostname, tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {Budget, type FileInfo, type Importer, type ImportRecord, IntegrityError, mapConcurrent, markFatal, type ScanError, type ScanOptions} from '@plakar/sdk'
import {BlobType} from '../format/blob-type.js'
import {decode} from '../format/codec.js'
import type {PackKind} from '../format/packfile.js'
import {infoOf, type SnapshotHeader} from '../format/snapshot.js'
import {emptyDelta, type StatePackfile} from '../format/state.js'
import {RepositoryLock} from '../repository/lock.js'
import type {Repository} from '../repository/repository.js'
import {RepositoryWriter} from '../repository/writer.js'
import {decodeEntry, type ChunkRef} from '../tree/entry.js'
import {backup, racyFrom, unchangedSince} from './backup.js'
import type {PackfileCollector} from './thaw.js'
import {planRanges} from '../repository/blob-reader.js'
import type {SnapshotEntry} from './selection.js'
import {Snapshot} from './snapshot.js'

/**
 * Sync: copies snapshots from one repository to another, keeping their identity (id, time,
 * host, tags, importer, parent).
 *
 * - Between peers (a repository made with `create --from` the other, so both derive the same
 *   subkeys from the same master key): blob ids and sealed bytes mean the same on both sides.
 *   The snapshot's blobs are listed by walking its trees, those the target lacks are copied
 *   sealed, never decrypted: a source packfile whose every blob is wanted is copied whole, byte
 *   for byte (its id is the MAC of its bytes, valid on both sides); the others give their wanted
 *   blobs, read by coalesced ranges, to new packfiles. The header blob is copied too, so the
 *   snapshot is the same object on both sides.
 * - Otherwise content is decoded and backed up again into the target from the source snapshot
 *   (its chunking, keys and compression), with the header fields kept. Files the previous
 *   synced snapshot of the same source already holds unchanged are not read again.
 *
 * Resuming: whole packfiles copied by a killed run are on the target's storage but listed in no
 * state; the next run finds them by listing the storage and lists them without copying them
 * again. Partial copies go through a writer that publishes a state after every packfile, so at
 * most the packfile being filled is copied twice.
 */
export type SyncMode = 'copy' | 're-encode'

export interface SyncProgress {
  snapshot: string
  /** Bytes planned to cross from source to target (copy), or of file content (re-encode). */
  toMove: number
  moved: number
  /** Bytes the target already had (deduplicated). */
  saved: number
}

export interface SyncOptions {
  dryRun?: boolean
  signal?: AbortSignal
  concurrency?: number
  tmpDir?: string
  onProgress?: (progress: SyncProgress) => void
  onSnapshot?: (result: SnapshotSyncResult) => void
  onWarning?: (message: string) => void
}

export interface SnapshotSyncResult {
  id: string
  mode: SyncMode
  /** Blobs (copy) the snapshot references that the target lacked. */
  blobs: number
  /** Bytes planned to move, moved, and found already in the target. */
  toMove: number
  moved: number
  saved: number
  /** Whole packfiles copied, and whole packfiles found already stored by an interrupted run. */
  packfiles: number
  adopted: number
  dryRun: boolean
}

export interface SyncPlan {
  mode: SyncMode
  /** Snapshots to copy, oldest first. */
  missing: SnapshotEntry[]
  /** Selected snapshots the target already has. */
  present: SnapshotEntry[]
  /** Selected snapshots deleted in the target: left out, not resurrected. */
  deletedThere: SnapshotEntry[]
}

const PROBE = Buffer.from('plakar v1 peer probe')

/** Whether sealed blobs of `source` are valid as they are in `target`: same subkeys. */
export function syncMode(source: Repository, target: Repository): SyncMode {
  const a = source.keys.subkeys()
  const b = target.keys.subkeys()
  const same =
    a.encrypted === b.encrypted &&
    Buffer.from(a.seal).equals(Buffer.from(b.seal)) &&
    source.keys.blobMac.digest(PROBE).equals(target.keys.blobMac.digest(PROBE)) &&
    source.keys.objectMac.digest(PROBE).equals(target.keys.objectMac.digest(PROBE))
  return same ? 'copy' : 're-encode'
}

export function planSync(source: Repository, target: Repository, selected: SnapshotEntry[]): SyncPlan {
  const have = new Set(target.cache.snapshots().map((s) => s.id.toString('hex')))
  const plan: SyncPlan = {mode: syncMode(source, target), missing: [], present: [], deletedThere: []}
  for (const entry of selected) {
    if (have.has(entry.id)) plan.present.push(entry)
    else if (target.cache.isSnapshotDeleted(entry.ref.id)) plan.deletedThere.push(entry)
    else plan.missing.push(entry)
  }
  return plan
}

function owner() {
  return {host: hostname(), pid: process.pid, user: userInfo().username}
}

/**
 * The data a sync reads from the source, for thawing a cold source (docs/format.md §2.2): its
 * chunks' packfiles go to `collector`. Copying between peers reads only the chunks the target
 * lacks. Re-encoding reads the content of every file except those the target's backup finds
 * unchanged in its parent (backup.ts: the newest snapshot there, by time, with the same importer,
 * origin and root — one already there, or one this sync copies before), so the choice is made
 * the same way here. When maintenance deleted data in the target, a parent's file may be read
 * again: then every file counts.
 */
export async function collectSyncPackfiles(source: Repository, target: Repository, plan: SyncPlan, collector: PackfileCollector): Promise<void> {
  const headerOf = (repo: Repository, id: Buffer, mac: Buffer) => repo.snapshotHeader(id, mac)
  if (plan.mode === 'copy') {
    for (const entry of plan.missing) {
      const snapshot = new Snapshot(source, await headerOf(source, entry.ref.id, entry.ref.header))
      for await (const [, e] of snapshot.walk(snapshot.root)) {
        if (e.info.type !== 'file') continue
        for (const [mac] of await snapshot.chunks(e)) if (!target.cache.hasBlob(BlobType.CHUNK, mac)) collector.add(mac)
      }
    }
    collector.flush()
    return
  }
  const deletions = target.cache.hasDeletedPackfiles() || target.damagedStates.length > 0
  // Candidate parents: the target's snapshots, then each copied one as the sync goes.
  const candidates: {time: number; id: Buffer; repo: Repository; header: Buffer}[] = target.cache.snapshots().map((r) => ({time: r.time, id: r.id, repo: target, header: r.header}))
  const triples = new Map<string, string>()
  const tripleOf = async (c: {id: Buffer; repo: Repository; header: Buffer}) => {
    const key = `${c.repo === target ? 't' : 's'}:${c.id.toString('hex')}`
    let triple = triples.get(key)
    if (triple === undefined) {
      const h = await headerOf(c.repo, c.id, c.header)
      triple = JSON.stringify([h.importer.type, h.importer.origin, h.importer.root])
      triples.set(key, triple)
    }
    return triple
  }
  for (const entry of plan.missing) {
    const header = await headerOf(source, entry.ref.id, entry.ref.header)
    const snapshot = new Snapshot(source, header)
    const triple = JSON.stringify([header.importer.type, header.importer.origin, header.importer.root])
    let parent: Snapshot | undefined
    if (!deletions) {
      const ordered = [...candidates].sort((a, b) => a.time - b.time || Buffer.compare(a.id, b.id))
      for (let i = ordered.length - 1; i >= 0 && !parent; i--) {
        const c = ordered[i]
        if ((await tripleOf(c)) === triple) parent = new Snapshot(c.repo, await headerOf(c.repo, c.id, c.header))
      }
    }
    for await (const [path, e] of snapshot.walk(snapshot.root)) {
      if (e.info.type !== 'file' || e.error !== undefined) continue
      const previous = parent && (await parent.entry(path).catch(() => undefined))
      if (previous && unchangedSince(previous, e.info, racyFrom(parent!.header.time))) continue
      for (const [mac] of await snapshot.chunks(e)) collector.add(mac)
    }
    candidates.push({time: header.time, id: header.id, repo: source, header: entry.ref.header})
  }
  collector.flush()
}

/** Copies the plan's missing snapshots, oldest first. */
export async function runSync(source: Repository, target: Repository, plan: SyncPlan, options: SyncOptions = {}): Promise<SnapshotSyncResult[]> {
  const results: SnapshotSyncResult[] = []
  if (plan.missing.length === 0) return results
  if (plan.mode === 're-encode') {
    // Decoding is the cheaper half of a re-encode; the target's chunking workers, one per core,
    // do the rest. A decoding worker per core as well only added an isolate's memory: on 2
    // cores, 482 MiB at the peak and 18.8 s with two, 436 MiB and 16.8 s with one (1.5 GB).
    // This thread packs for the target: it does not decode as well (as restore and check do).
    source.reader.decodeWorkers = Math.max(1, Math.floor(availableParallelism() / 2))
    source.reader.decodeHere = false
    for (const entry of plan.missing) {
      options.signal?.throwIfAborted()
      const result = await reencodeSnapshot(source, target, entry, options)
      results.push(result)
      options.onSnapshot?.(result)
    }
    return results
  }
  const copier = new Copier(source, target, options)
  try {
    await copier.start()
    for (const entry of plan.missing) {
      options.signal?.throwIfAborted()
      const result = await copier.copy(entry)
      results.push(result)
      options.onSnapshot?.(result)
    }
  } finally {
    await copier.close()
  }
  return results
}

/** Whole packfiles listed per state when copied: a killed run re-lists (never re-copies) the rest. */
const PACKS_PER_STATE = 4
/**
 * Whole packfiles copied at once. A run killed while copying loses what it wrote of these (a
 * storage keeps no partial object), and the next run writes them again: with four at once, a
 * killed round wrote up to 7.4 % more than an uninterrupted sync; each is a stream, so two keep
 * a storage as busy.
 */
const WHOLE_PACKS_AT_ONCE = 2

class Copier {
  readonly #source: Repository
  readonly #target: Repository
  readonly #options: SyncOptions
  readonly #dir: string
  readonly #db: Database.Database
  #writer?: RepositoryWriter
  #lock?: RepositoryLock
  #sourceLock?: RepositoryLock
  /** Packfiles on the target's storage that no state lists (left by an interrupted run). */
  #orphans = new Set<string>()
  #pending: StatePackfile[] = []

  constructor(source: Repository, target: Repository, options: SyncOptions) {
    this.#source = source
    this.#target = target
    this.#options = options
    // The plan of one snapshot can hold millions of blobs: it lives in a temporary SQLite
    // table, not on the heap.
    this.#dir = mkdtempSync(join(options.tmpDir ?? tmpdir(), 'plakar-sync-'))
    this.#db = new Database(join(this.#dir, 'plan.sqlite'))
    this.#db.pragma('journal_mode = OFF')
    this.#db.pragma('synchronous = OFF')
    this.#db.exec(`CREATE TABLE blobs(mac BLOB NOT NULL, type INTEGER NOT NULL, want INTEGER NOT NULL, pack TEXT, offset INTEGER, length INTEGER, raw INTEGER,
      PRIMARY KEY(mac, type)) WITHOUT ROWID; CREATE INDEX blobs_by_pack ON blobs(pack) WHERE want = 1;`)
  }

  async start(): Promise<void> {
    if (!this.#options.dryRun) {
      this.#lock = await RepositoryLock.acquire(this.#target, 'shared', owner())
      // Maintenance of the source must not delete packfiles while they are copied; a source
      // that cannot be written (read-only credentials) is read without a lock.
      if (this.#source.storage.capabilities().write) {
        this.#sourceLock = await RepositoryLock.acquire(this.#source, 'shared', owner()).catch(() => undefined)
      }
      this.#writer = new RepositoryWriter(this.#target, {host: hostname(), publishEvery: 1})
    }
    const indexed = new Set(this.#target.cache.packfiles().map((p) => p.id))
    for await (const id of this.#target.storage.list('packfile')) if (!indexed.has(id)) this.#orphans.add(id)
  }

  async close(): Promise<void> {
    this.#db.close()
    rmSync(this.#dir, {recursive: true, force: true})
    await this.#lock?.release().catch(() => {})
    await this.#sourceLock?.release().catch(() => {})
  }

  async copy(entry: SnapshotEntry): Promise<SnapshotSyncResult> {
    const source = this.#source
    const result: SnapshotSyncResult = {id: entry.id, mode: 'copy', blobs: 0, toMove: 0, moved: 0, saved: 0, packfiles: 0, adopted: 0, dryRun: !!this.#options.dryRun}
    const progress = () => this.#options.onProgress?.({snapshot: entry.id, toMove: result.toMove, moved: result.moved, saved: result.saved})
    const header = await source.snapshotHeader(entry.ref.id, entry.ref.header)
    await this.#plan(header, entry.ref.header, result)
    progress()
    if (this.#options.dryRun) return result

    const byPack = this.#db.prepare('SELECT pack, count(*) AS n FROM blobs WHERE want = 1 GROUP BY pack ORDER BY pack').all() as {pack: string; n: number}[]
    const whole: string[] = []
    const partial: string[] = []
    for (const {pack, n} of byPack) (source.cache.indexOfPack(pack).length === n ? whole : partial).push(pack)
    const concurrency = Math.min(this.#options.concurrency ?? 8, 8)

    await mapConcurrent(whole, Math.min(concurrency, WHOLE_PACKS_AT_ONCE), async (pack) => {
      this.#options.signal?.throwIfAborted()
      const kind = (source.cache.packKind(pack) ?? 'data') as PackKind
      const blobBytes = source.cache.blobBytesOfPack(pack)
      if (this.#orphans.has(pack)) {
        result.adopted++
      } else {
        await source.reader.ready(pack)
        const {size} = await source.storage.stat('packfile', pack)
        const data = await source.storage.get('packfile', pack)
        await this.#target.storage.put('packfile', pack, data, size, {packfileKind: kind})
        result.packfiles++
      }
      result.moved += blobBytes
      progress()
      this.#pending.push({id: pack, kind, blobs: source.cache.indexOfPack(pack)})
      if (this.#pending.length >= PACKS_PER_STATE) await this.#publish()
    })
    await this.#publish()

    const select = this.#db.prepare('SELECT mac, type, pack, offset, length, raw FROM blobs WHERE want = 1 AND pack = ?')
    const writer = this.#writer!
    for (const pack of partial) {
      this.#options.signal?.throwIfAborted()
      const rows = select.all(pack) as {mac: Buffer; type: number; pack: string; offset: number; length: number; raw: number}[]
      const byKey = new Map(rows.map((r) => [`${r.type}:${r.mac.toString('hex')}`, r]))
      const ranges = planRanges(rows.map((r) => ({key: `${r.type}:${r.mac.toString('hex')}`, mac: r.mac, pack: r.pack, offset: r.offset, length: r.length})))
      await mapConcurrent(ranges, concurrency, async (range) => {
        const data = await source.reader.range(range.pack, range.offset, range.length)
        for (const b of range.blobs) {
          const row = byKey.get(b.key)!
          // The sealed bytes, as they are: the peer opens them with the same keys.
          await writer.putSealed(row.type, row.mac, Buffer.from(data.subarray(b.offset - range.offset, b.offset - range.offset + b.length)), row.raw)
          result.moved += b.length
        }
        progress()
      })
    }
    this.#options.signal?.throwIfAborted()
    this.#lock!.assertHeld()
    await writer.commit({id: header.id, header: entry.ref.header, time: header.time, info: {...infoOf(header), tags: entry.tags}})
    return result
  }

  async #publish(): Promise<void> {
    if (this.#pending.length === 0) return
    const delta = emptyDelta(hostname())
    delta.packfiles = this.#pending
    this.#pending = []
    await this.#target.writeState(delta)
    for (const p of delta.packfiles) this.#orphans.delete(p.id)
  }

  /** Lists every blob the snapshot references into the plan table: wanted, or already in the target. */
  async #plan(header: SnapshotHeader, headerMac: Buffer, result: SnapshotSyncResult): Promise<void> {
    const source = this.#source
    const target = this.#target
    // A dry run keeps the plan of the snapshots before: blobs they share are counted once.
    if (!this.#options.dryRun) this.#db.exec('DELETE FROM blobs')
    const insert = this.#db.prepare('INSERT OR IGNORE INTO blobs(mac, type, want, pack, offset, length, raw) VALUES (?, ?, ?, ?, ?, ?, ?)')
    const seen = this.#db.prepare('SELECT 1 FROM blobs WHERE mac = ? AND type = ?').pluck()
    const has = (type: number, mac: Buffer) => (this.#writer ? this.#writer.has(type, mac) : target.cache.hasBlob(type, mac))
    const add = (type: number, raw: Uint8Array): boolean => {
      const mac = Buffer.from(raw)
      if (seen.get(mac, type) !== undefined) return false
      const loc = source.cache.locate(type, mac)
      if (!loc) throw new IntegrityError(`snapshot ${header.id.toString('hex').slice(0, 8)} references a blob the source lacks (${mac.toString('hex').slice(0, 16)}): run "plakar check" on the source`)
      if (has(type, mac)) {
        insert.run(mac, type, 0, null, null, loc.length, null)
        result.saved += loc.length
      } else {
        insert.run(mac, type, 1, loc.pack, loc.offset, loc.length, loc.rawLength)
        result.blobs++
        result.toMove += loc.length
      }
      return true
    }
    add(BlobType.SNAPSHOT, headerMac)
    const snapshot = new Snapshot(source, header)
    const batch: (() => void)[] = []
    const flush = () => {
      this.#db.transaction(() => {
        for (const fn of batch.splice(0)) fn()
      })()
    }
    for (const [tree, type] of [
      [snapshot.names, BlobType.NAME_NODE],
      [snapshot.types, BlobType.TYPE_NODE],
    ] as const) {
      for await (const node of tree.nodes((mac) => seen.get(mac, type) !== undefined)) {
        this.#options.signal?.throwIfAborted()
        add(type, node.mac)
      }
    }
    for await (const node of snapshot.vfs.nodes((mac) => seen.get(mac, BlobType.VFS_NODE) !== undefined)) {
      this.#options.signal?.throwIfAborted()
      add(BlobType.VFS_NODE, node.mac)
      if (node.level !== 0) continue
      for (const [, value] of node.entries) {
        const entry = decodeEntry(value)
        if (entry.object) {
          if (add(BlobType.OBJECT, entry.object)) {
            const refs = decode<ChunkRef[]>(await source.reader.read(BlobType.OBJECT, Buffer.from(entry.object)))
            batch.push(() => {
              for (const [mac] of refs) add(BlobType.CHUNK, mac)
            })
          }
        } else if (entry.chunks) {
          const refs = entry.chunks
          batch.push(() => {
            for (const [mac] of refs) add(BlobType.CHUNK, mac)
          })
        }
      }
      if (batch.length >= 256) flush()
    }
    flush()
  }
}

/** Bytes the files a re-encoding sync reads hold between them (SnapshotImporter.readAhead). */
export const SOURCE_READ_AHEAD = 16 * 1024 * 1024
/** What the files a re-encoding sync streams at once may hold in the backup (BackupOptions.streamBudget). */
const SYNC_STREAM_BUDGET = 8 * 1024 * 1024

/**
 * A snapshot of another repository as a data source: its entries as they were recorded, their
 * content read (decrypted, decompressed, authenticated) from the source repository.
 */
export class SnapshotImporter implements Importer {
  readonly type: string
  readonly origin: string
  readonly root: string
  readonly #snapshot: Snapshot
  /**
   * What the files being read hold between them, read ahead of the backup (BlobReader.chunks):
   * the backup streams dozens of files at once, and each held two ranges of up to 8 MiB, so
   * memory grew with the number of large files (1.26 GB on a 1.5 GB tree).
   */
  readonly readAhead: Budget

  constructor(snapshot: Snapshot, readAhead = SOURCE_READ_AHEAD) {
    this.#snapshot = snapshot
    this.readAhead = new Budget(readAhead)
    this.type = snapshot.header.importer.type
    this.origin = snapshot.header.importer.origin
    this.root = snapshot.header.importer.root
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    const snapshot = this.#snapshot
    for await (const [path, entry] of snapshot.walk(this.root)) {
      options.signal.throwIfAborted()
      if (entry.error !== undefined) {
        yield {path, error: entry.error, info: entry.info}
        continue
      }
      const info: FileInfo = entry.info
      const record: ImportRecord = {path, info}
      if (entry.target !== undefined) record.target = entry.target
      // A file of the source that cannot be read fails the sync: the copy must never hold an
      // error entry where the original holds content ("fatal" ends the backup with it).
      if (info.type === 'file') {
        record.open = async () => {
          const content = await snapshot.content(entry, undefined, {readAhead: this.readAhead}).catch((error: Error) => Promise.reject(markFatal(error)))
          // Pulled only as the backup takes bytes: what is read ahead stays in `readAhead`.
          return Readable.from(fatalOnError(content), {objectMode: false, highWaterMark: 0})
        }
      }
      yield record
    }
  }

  async close(): Promise<void> {}
}

async function* fatalOnError(content: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of content) yield chunk
  } catch (error) {
    throw markFatal(error as Error)
  }
}

async function reencodeSnapshot(source: Repository, target: Repository, entry: SnapshotEntry, options: SyncOptions): Promise<SnapshotSyncResult> {
  const header = await source.snapshotHeader(entry.ref.id, entry.ref.header)
  const size = header.summary.size
  const result: SnapshotSyncResult = {id: entry.id, mode: 're-encode', blobs: 0, toMove: size, moved: 0, saved: 0, packfiles: 0, adopted: 0, dryRun: !!options.dryRun}
  if (options.dryRun) return result
  const snapshot = new Snapshot(source, header)
  const done = await backup(target, [new SnapshotImporter(snapshot)], {
    preserve: {header, tags: entry.tags},
    signal: options.signal,
    concurrency: options.concurrency,
    tmpDir: options.tmpDir,
    // The importer reads ahead within its own budget: streams beyond a few only hold memory.
    streamBudget: SYNC_STREAM_BUDGET,
    // Entries the original backup could not read come back as scan errors: they are copied
    // as they are, not reported again.
    onError: () => {},
    onProgress: (p) => {
      result.moved = p.readBytes
      result.saved = p.bytes - p.readBytes
      options.onProgress?.({snapshot: entry.id, toMove: size, moved: p.readBytes, saved: p.bytes - p.readBytes})
    },
  })
  result.moved = done.progress.readBytes
  result.saved = done.progress.bytes - done.progress.readBytes
  result.packfiles = 0
  result.blobs = done.snapshot?.stats.addedBlobs ?? 0
  return result
}

import {hostname, tmpdir, userInfo} from 'node:os'
import type {Readable} from 'node:stream'
import {BlobType} from '../format/blob-type.js'
import {encode} from '../format/codec.js'
import {SNAPSHOT_VERSION, encodeHeader, infoOf, type SnapshotHeader} from '../format/snapshot.js'
import {type FileInfo, type Importer, type ImportRecord, isFatal, isScanError, type ScanError, Budget, TaskPool} from '@plakar/sdk'
import {RepositoryLock} from '../repository/lock.js'
import {sweepLeftovers} from '../repository/leftovers.js'
import {describeLost, findLostPackfiles, recordLostPackfiles} from '../repository/lost-packfiles.js'
import {newSnapshotId, type Repository} from '../repository/repository.js'
import {RepositoryWriter} from '../repository/writer.js'
import {decodeEntry, INLINE_CHUNKS, type ChunkRef, type Entry} from '../tree/entry.js'
import {pathToKey} from '../tree/path-key.js'
import {ChunkPool, STREAM_MESSAGE, type ChunkedFile, type ChunkSink, type Sniff} from './chunk-pool.js'
import {FirstBytes, needsContent, sniffType, typeFromName} from './content-type.js'
import {ChunkSealer} from './chunk-sealer.js'
import {Snapshot} from './snapshot.js'
import {Staging} from './staging.js'
import {sameEntry, sameUnchangedFile, SubtreeReuse} from './subtree-reuse.js'

export interface BackupProgress {
  files: number
  directories: number
  errors: number
  /** Bytes of file content processed, read or found unchanged. */
  bytes: number
  /** Bytes of file content actually read from the source (unchanged files are not). */
  readBytes: number
  /** Totals from the counting scan, when one runs. */
  totalFiles?: number
  totalBytes?: number
  addedBytes: number
  /** Unchanged files whose stored content was lost (a missing packfile) and was read again. */
  recovered: number
}

export interface BackupOptions {
  tags?: string[]
  /** The snapshot's name, to select it by later (`--name`). */
  name?: string
  /** Extra exclusion on top of the importer's own: gitignore matcher, etc. */
  skip?: (path: string, isDirectory: boolean) => boolean
  dryRun?: boolean
  host?: string
  user?: string
  command?: string[]
  /** Files read at once. */
  concurrency?: number
  signal?: AbortSignal
  /** Run a second, counting scan so progress can show totals and an ETA. */
  countFirst?: boolean
  onProgress?: (progress: BackupProgress) => void
  onError?: (error: ScanError) => void
  /** Where temporary staging files go. */
  tmpDir?: string
  /** What streamed files (not read by the workers from a local path) may hold at once (STREAM_BUDGET). */
  streamBudget?: number
  /**
   * Re-create a snapshot of another repository (sync between repositories that are not peers):
   * the new snapshot keeps its id, time, host, user, name, importer, command and parent, and
   * takes these tags (edited tags included).
   */
  preserve?: {header: SnapshotHeader; tags: string[]}
}

export interface BackupResult {
  snapshot?: SnapshotHeader
  id: string
  dryRun: boolean
  progress: BackupProgress
  /** Packfiles the index listed that the storage no longer holds, found at the start. */
  lostPackfiles: string[]
  /** Entries of unchanged directories copied as stored from the parent snapshot. */
  carried: number
}

/** The common ancestor of absolute '/'-paths. */
export function commonRoot(paths: string[]): string {
  const split = paths.map((p) => p.split('/').filter(Boolean))
  const first = split[0] ?? []
  let n = 0
  while (n < first.length && split.every((parts) => parts[n] === first[n])) n++
  return `/${first.slice(0, n).join('/')}`
}

/**
 * Whether a file is unchanged since the parent snapshot. ctime is compared too, as restic does:
 * tools that copy or extract files put their mtime back (cp -p, rsync -t, tar), so a file can
 * change with the same size and mtime, but no program can set its ctime.
 */
function sameFile(a: FileInfo, b: FileInfo): boolean {
  return (
    a.type === 'file' &&
    b.type === 'file' &&
    a.size === b.size &&
    a.mtime === b.mtime &&
    a.ctime === b.ctime &&
    a.mode === b.mode &&
    a.ino === b.ino &&
    a.dev === b.dev &&
    a.fingerprint === b.fingerprint
  )
}

/**
 * Takes a snapshot of what the importers yield. Files unchanged since the parent snapshot (same
 * importer, origin and root; same size, mtime, ctime, inode, mode and fingerprint) are not read again.
 */
export async function backup(repo: Repository, importers: Importer[], options: BackupOptions = {}): Promise<BackupResult> {
  const type = importers[0].type
  const origin = importers[0].origin
  const root = commonRoot(importers.map((i) => i.root))
  const host = options.host ?? hostname()
  const user = options.user ?? userInfo().username
  const started = Date.now()
  const signal = options.signal ?? new AbortController().signal

  // The lock names the machine it runs on (not --host), so that a later writer on this machine
  // can tell whether its process is still alive.
  const lock = options.dryRun ? undefined : await RepositoryLock.acquire(repo, 'shared', {host: hostname(), pid: process.pid, user})
  if (lock) await sweepLeftovers(repo)
  const staging = new Staging(options.tmpDir ?? tmpdir())
  // Data packfiles are filled in a file beside the staged entries, not in memory.
  const writer = new RepositoryWriter(repo, {host, dryRun: options.dryRun, spillDir: staging.dir})
  // Workers start with the first file that needs reading: an unchanged re-backup needs none.
  const workers: {started: boolean; pool?: ChunkPool} = {started: false}
  const pool = () => {
    if (!workers.started) {
      workers.started = true
      workers.pool = ChunkPool.create(repo)
    }
    return workers.pool
  }
  const progress: BackupProgress = {files: 0, directories: 0, errors: 0, bytes: 0, readBytes: 0, addedBytes: 0, recovered: 0}
  const report = () => {
    progress.addedBytes = writer.stats.addedBytes
    options.onProgress?.(progress)
  }
  try {
    // Marking protocol (format.md §11): the index this backup deduplicates against must be read
    // after its lock exists. A packfile marked before that is seen as marked (its blobs are
    // written again); one marked after is not deleted while this lock lives.
    if (lock) await repo.refresh()
    // A lost packfile must not poison this snapshot: its blobs are recorded as gone (for every
    // client), so deduplication stores that data again instead of pointing at nothing.
    const lost = await findLostPackfiles(repo, signal)
    const lostPackfiles = lost.ids
    if (lostPackfiles.length > 0) {
      if (!options.dryRun) await recordLostPackfiles(repo, lostPackfiles, host)
      repo.logger.warn(
        `${describeLost(lost)}: ` +
          'this backup stores their data again where the source still has it; older snapshots that used them are damaged: run "plakar repair"',
      )
    }
    const parentSnapshot = await findParent(repo, type, origin, root)
    // Decided once: whether the index may lack blobs of the parent, because maintenance deleted
    // packfiles or a state could not be read (then reused chunks are looked up, and read again
    // from the source when they are missing).
    const parent: Parent | undefined = parentSnapshot && {
      snapshot: parentSnapshot,
      deletions: repo.cache.hasDeletedPackfiles() || repo.damagedStates.length > 0,
      racyFrom: racyFrom(parentSnapshot.header.time),
    }
    const skipLocal = importers.some((i) => i.local) ? [repo.storage.localPath].filter((p): p is string => !!p) : []
    const skip = (path: string, isDirectory: boolean) =>
      skipLocal.some((p) => path === p || path.startsWith(`${p}/`)) || (options.skip?.(path, isDirectory) ?? false)

    if (options.countFirst) void countTotals(importers, skip, signal, progress)

    // With workers, many small files must be queued to keep them busy; memory stays bounded
    // by the workers' credit, not by the number of files in flight.
    const tasks = new TaskPool(ChunkPool.available() ? 32 * (options.concurrency ?? 8) : (options.concurrency ?? 8))
    const reading: Reading = {pool, streams: new Budget(options.streamBudget ?? STREAM_BUDGET), signal}
    // Unchanged directories are carried over from the parent snapshot. Not when the index may
    // lack some of the parent's blobs: then every file's content is looked up, one by one.
    const reuse = parent && !parent.deletions ? new SubtreeReuse(staging, parent.snapshot) : undefined
    for (const importer of importers) {
      for await (const item of importer.scan({signal, skip})) {
        signal.throwIfAborted()
        if (item.path.includes('\0')) {
          // No file system allows a NUL in a name, and tree keys use NUL as the separator: a name
          // holding one (a faulty importer, a crafted archive) is refused, never mangled.
          const shown = item.path.replaceAll('\0', '\\0')
          progress.errors++
          options.onError?.({path: shown, error: `the name ${JSON.stringify(item.path)} holds a NUL byte: not backed up`})
          // A streamed source (an archive) goes on to its next entry only once this one is read.
          if (!isScanError(item) && item.info.type === 'file' && item.open) await item.open({signal}).then((s) => s.destroy(), () => {})
          continue
        }
        // Usually known at once: a promise only when a subtree carried over must come back.
        const arrived = reuse?.arrive(item.path)
        const owner = arrived instanceof Promise ? await arrived : arrived
        const seq = staging.reserve()
        if (isScanError(item)) {
          progress.errors++
          options.onError?.(item)
          const entry: Entry = {info: item.info ?? {type: 'unknown', size: 0}, error: item.error}
          if (reuse) reuse.settle(owner, item.path, entry, seq, false)
          else staging.add(item.path, entry, seq)
          continue
        }
        if (item.info.type !== 'file') {
          const entry: Entry = {info: withContentType(item), target: item.target}
          if (!reuse) staging.add(item.path, entry, seq)
          else if (item.info.type === 'directory') {
            const previous = await previousEntry(parent!.snapshot, item.path)
            reuse.directory(item.path, entry, seq, owner, previous?.entry, previous?.bytes)
          } else {
            // Only a candidate directory needs to know whether its other entries are unchanged.
            const previous = owner && (await previousEntry(parent!.snapshot, item.path))
            reuse.settle(owner, item.path, entry, seq, !!previous && sameEntry(previous.entry, entry), previous?.bytes)
          }
          if (item.info.type === 'directory') progress.directories++
          continue
        }
        // An unchanged file needs no reading: settled here, without a task of the pool (its
        // promises and closures were a good part of an unchanged re-backup's per-file cost),
        // when its parent entry is in the tree leaf at hand. A leaf to read (from a cold disk)
        // goes through the pool, so that the scan goes on and the next leaves load meanwhile;
        // so does everything when the index may lack blobs (chunks are then looked up).
        const lookup = parent && !parent.deletions ? previousEntryAtHand(parent.snapshot, item.path) : undefined
        const unchanged = lookup ? unchangedFrom(lookup, item, progress, parent!.racyFrom) : undefined
        if (unchanged) {
          if (reuse && unchanged.same) reuse.settleSame(owner, item.path, seq, unchanged.previousBytes, item.info.atime, unchanged.entry)
          else if (reuse) reuse.settle(owner, item.path, unchanged.entry(), seq, false, unchanged.previousBytes)
          else staging.add(item.path, unchanged.entry(), seq)
          progress.files++
          report()
          continue
        }
        // Looked up already (and changed, or new): read it, without a second lookup.
        const looked = lookup !== undefined && lookup !== 'unknown'
        await tasks.run(async () => {
          const {entry, same, previousBytes} = await fileEntry(repo, writer, reading, item, looked ? undefined : parent, progress)
          if (entry.error) {
            progress.errors++
            options.onError?.({path: item.path, error: entry.error})
          }
          if (reuse) reuse.settle(owner, item.path, entry, seq, same, previousBytes)
          else staging.add(item.path, entry, seq)
          progress.files++
          report()
        })
      }
    }
    await tasks.drain()
    reuse?.finish()
    report()
    // Interrupted while the last files were read: stop before building and naming a snapshot.
    signal.throwIfAborted()

    const trees = await staging.build(writer, repo.treeSeed, root, parentSnapshot)
    const kept = options.preserve?.header
    const header: SnapshotHeader = kept
      ? {
          version: SNAPSHOT_VERSION,
          id: Buffer.from(kept.id),
          time: kept.time,
          host: kept.host,
          user: kept.user,
          ...(kept.name ? {name: kept.name} : {}),
          tags: options.preserve!.tags,
          importer: kept.importer,
          command: kept.command,
          trees: {vfs: trees.vfs, names: trees.names, types: trees.types},
          summary: trees.summary,
          stats: {durationMs: 0, readBytes: progress.readBytes, addedBytes: 0, addedBlobs: 0},
          ...(kept.parent ? {parent: Buffer.from(kept.parent)} : {}),
        }
      : {
          version: SNAPSHOT_VERSION,
          id: newSnapshotId(),
          time: started,
          host,
          user,
          ...(options.name ? {name: options.name} : {}),
          tags: options.tags ?? [],
          importer: {type, origin, root},
          command: options.command ?? [],
          trees: {vfs: trees.vfs, names: trees.names, types: trees.types},
          summary: trees.summary,
          stats: {durationMs: 0, readBytes: progress.readBytes, addedBytes: 0, addedBlobs: 0},
          ...(parentSnapshot ? {parent: parentSnapshot.header.id} : {}),
        }
    // The header's own blob is counted in the stats it carries only approximately: it cannot
    // contain its own size.
    await writer.flush()
    header.stats.durationMs = Date.now() - started
    header.stats.addedBytes = writer.stats.addedBytes
    header.stats.addedBlobs = writer.stats.addedBlobs
    const {mac} = await writer.put(BlobType.SNAPSHOT, encodeHeader(header))
    signal.throwIfAborted()
    // Maintenance may delete what a writer without a live lock relies on: commit only under it.
    lock?.assertHeld()
    await writer.commit({id: header.id, header: mac, time: header.time, info: infoOf(header)})
    report()
    if (progress.recovered > 0) {
      repo.logger.warn(`${progress.recovered} unchanged files whose stored content was lost were read and stored again`)
    }
    return {snapshot: header, id: header.id.toString('hex'), dryRun: !!options.dryRun, progress, lostPackfiles, carried: trees.carried}
  } catch (error) {
    // No snapshot: leave no stored packfile that no state lists (full disk: give the space back).
    await writer.abandon(error).catch(() => {})
    throw error
  } finally {
    await workers.pool?.close()
    staging.close()
    await lock?.release().catch(() => {})
  }
}

/** The type the name gives (content-type.ts); `fileEntry` asks the content where that is not enough. */
function withContentType(record: ImportRecord): FileInfo {
  const contentType = contentTypeOf(record)
  return contentType === record.info.contentType ? record.info : {...record.info, contentType}
}

/** withContentType(record).contentType, without the copy. */
function contentTypeOf(record: ImportRecord): string | undefined {
  if (record.info.type !== 'file' || record.info.contentType) return record.info.contentType
  return typeFromName(record.path) ?? record.info.contentType
}

/** What content detection needs, when the importer gave no type and the name does not settle it. */
function sniffFor(record: ImportRecord, info: FileInfo): Sniff | undefined {
  if (record.info.contentType || !needsContent(info.contentType)) return undefined
  return info.contentType ? {name: record.path, guess: info.contentType} : {name: record.path}
}

function withType(info: FileInfo, contentType: string | undefined): FileInfo {
  if (contentType === info.contentType) return info
  const {contentType: _name, ...rest} = info
  return contentType ? {...rest, contentType} : rest
}

/** An entry of the parent snapshot, decoded and as stored; undefined when absent or unreadable. */
async function previousEntry(snapshot: Snapshot, path: string): Promise<{entry: Entry; bytes: Buffer} | undefined> {
  try {
    const bytes = await snapshot.vfs.get(pathToKey(path))
    return bytes ? {entry: decodeEntry(bytes), bytes} : undefined
  } catch {
    return undefined
  }
}

async function findParent(repo: Repository, type: string, origin: string, root: string): Promise<Snapshot | undefined> {
  const headers = await repo.snapshots()
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = headers[i]
    if (h.importer.type === type && h.importer.origin === origin && h.importer.root === root) return new Snapshot(repo, h)
  }
  return undefined
}

async function countTotals(
  importers: Importer[],
  skip: (path: string, isDirectory: boolean) => boolean,
  signal: AbortSignal,
  progress: BackupProgress,
): Promise<void> {
  let files = 0
  let bytes = 0
  try {
    for (const importer of importers) {
      for await (const item of importer.scan({signal, skip})) {
        if (!isScanError(item) && item.info.type === 'file') {
          files++
          bytes += item.info.size
        }
      }
    }
    progress.totalFiles = files
    progress.totalBytes = bytes
  } catch {
    // Totals are a nicety; the real scan reports errors.
  }
}

/** How file content is read: the worker pool (started on first use), and a bound on streams. */
interface Reading {
  pool: () => ChunkPool | undefined
  streams: Budget
  signal: AbortSignal
}

/**
 * Streamed files (S3, SFTP, …) read at once are bounded by what each may hold: on a worker, a
 * chunker's buffer, which grows to the file's size up to the largest chunk; here, the message
 * being filled (STREAM_MESSAGE) and what the source holds (64 KiB: a network stream's buffers).
 * The bytes queued in a worker are bounded per worker (STREAM_QUEUE), whatever the number of
 * files. Small objects are many at once (a remote source is latency-bound: the importer's own
 * connection limit paces them); large ones about 20 with the default chunking, more than the S3
 * importer's 16 connections: with 8, a bucket of large objects took 130 s instead of 102.
 */
export const STREAM_BUDGET = 100 * 1024 * 1024
const streamCost = (size: number, maxChunk: number) => Math.min(size, maxChunk) + Math.min(size, STREAM_MESSAGE) + 64 * 1024

/**
 * The parent entry of `path` when the tree leaf of the last lookup holds its place: the entry
 * (undefined: absent or unreadable), or 'unknown' when a node must be read to know.
 */
function previousEntryAtHand(snapshot: Snapshot, path: string): {entry: Entry; bytes: Buffer} | undefined | 'unknown' {
  try {
    const bytes = snapshot.vfs.peek(pathToKey(path))
    if (bytes === undefined) return 'unknown'
    return bytes ? {entry: decodeEntry(bytes), bytes} : undefined
  } catch {
    return undefined
  }
}

/** The parent snapshot; `racyFrom`: see racyFrom(). */
type Parent = {snapshot: Snapshot; deletions: boolean; racyFrom: number}

/**
 * Modification times at or after this (ms) cannot prove a file unchanged since a snapshot that
 * started at `started`. A file may be modified after the backup read it and keep the mtime it
 * had when read, if both fall in one tick of the file system's timestamps: one or two seconds
 * on some (FAT, SFTP's 32-bit seconds, older file systems), and Linux stamps files with a
 * coarse clock a few milliseconds behind. Such a file is read again by the next backup, as git
 * does with racily clean files; it costs one more read of files modified in the seconds before
 * a backup. Entries with a fingerprint (an S3 ETag) are exempt: it names the content itself.
 */
export function racyFrom(started: number): number {
  return started - 2100
}

/** `entry` builds the file's entry: only when it is staged, not when its directory is carried over. */
type Unchanged = {entry: () => Entry; same: boolean; previousBytes: Buffer}

/**
 * A file unchanged since the parent snapshot (sameFile) whose content is still stored: its entry,
 * the parent's chunks with the metadata scanned now, and whether it equals the parent's entry
 * (sameEntry, for carrying its directory over). Undefined when it must be read.
 */
async function unchangedEntry(
  repo: Repository,
  parent: Parent,
  record: ImportRecord,
  progress: BackupProgress,
): Promise<Unchanged | undefined> {
  const found = await previousEntry(parent.snapshot, record.path)
  if (!found || !unchangedSince(found.entry, record.info, parent.racyFrom)) return undefined
  if (!(await stillStored(repo, parent.snapshot, found.entry, parent.deletions))) {
    progress.recovered++
    return undefined
  }
  return unchangedFrom(found, record, progress, parent.racyFrom)
}

/**
 * Whether a file described by `info` now is the one of a parent snapshot's entry, as far as its
 * metadata can tell: sameFile, on an entry that is not an error and was not read racily (see
 * racyFrom, of the parent's time). It ignores the content type: compared first, guessed only
 * when needed. A re-encoding sync decides with it too (sync.ts), so that what it thaws is what
 * the target's backup reads.
 */
export function unchangedSince(previous: Entry, info: FileInfo, racyFrom: number): boolean {
  const racy = previous.info.fingerprint === undefined && (previous.info.mtime ?? 0) >= racyFrom
  return !previous.error && !racy && sameFile(previous.info, info)
}

/** The entry of a file unchanged since `found` (its content known to be stored), or undefined when it changed. */
function unchangedFrom(
  found: 'unknown' | {entry: Entry; bytes: Buffer},
  record: ImportRecord,
  progress: BackupProgress,
  racyFrom: number,
): Unchanged | undefined {
  if (found === 'unknown' || !unchangedSince(found.entry, record.info, racyFrom)) return undefined
  const previous = found.entry
  progress.bytes += record.info.size
  const contentType = previous.info.contentType ?? contentTypeOf(record)
  const entry = (): Entry => ({info: {...record.info, contentType}, chunks: previous.chunks, object: previous.object})
  return {entry, same: sameUnchangedFile(previous, record.info, contentType), previousBytes: found.bytes}
}

async function fileEntry(
  repo: Repository,
  writer: RepositoryWriter,
  reading: Reading,
  record: ImportRecord,
  parent: Parent | undefined,
  progress: BackupProgress,
): Promise<{entry: Entry; same: boolean; previousBytes?: Buffer}> {
  // `parent` is undefined when the backup loop looked the file up already and found it changed.
  if (parent) {
    const unchanged = await unchangedEntry(repo, parent, record, progress)
    if (unchanged) return {entry: unchanged.entry(), same: unchanged.same, previousBytes: unchanged.previousBytes}
  }
  const info = withContentType(record)
  const sniff = sniffFor(record, info)
  let chunked: ChunkedFile
  try {
    // The index half of the dedup decision was taken where the chunk was sealed (ChunkSealer);
    // putSealedNow takes the other half: this run's pending blobs.
    // Synchronous unless the writer must wait (an upload slot, a full packfile): no promise per chunk.
    const counted = (length: number) => {
      progress.bytes += length
      progress.readBytes += length
    }
    const sink: ChunkSink = (mac, length, sealed, lane) => {
      const put = sealed ? writer.putSealedNow(BlobType.CHUNK, mac, sealed, length, true, lane) : undefined
      if (put instanceof Promise) return put.then(() => counted(length))
      counted(length)
    }
    const chunkers = reading.pool()
    if (chunkers && record.localPath) {
      chunked = await chunkers.chunkFile(record.localPath, info.size, sink, sniff)
    } else if (chunkers) {
      // Any other importer: this thread reads the stream, a worker chunks, MACs and seals it.
      const release = await reading.streams.acquire(streamCost(info.size, repo.config.chunking.max))
      try {
        chunked = await chunkers.chunkStream(await openContent(record, reading.signal), sink, reading.signal, sniff, info.size)
      } finally {
        release()
      }
    } else {
      chunked = await chunkHere(repo, record, sink, reading.signal, sniff)
    }
  } catch (error) {
    // `fatal`: the source or the repository failed as a whole (unreachable after retries,
    // credentials refused): end the backup with that one error, not one per remaining file.
    if (isFatal(error)) throw error
    // Interrupted: the source's read was cancelled, not unreadable.
    if (reading.signal.aborted) throw error
    // The writer failed (an upload, a state): no snapshot can be named any more.
    if (writer.failure !== undefined) throw writer.failure
    return {entry: {info, error: describe(error)}, same: false}
  }
  // The file may have changed while it was read: record what was actually stored.
  const typed: FileInfo = sniff ? withType(info, chunked.contentType) : info
  const stored: FileInfo = chunked.size === typed.size ? typed : {...typed, size: chunked.size}
  const entry: Entry = {info: stored}
  if (chunked.refs.length > INLINE_CHUNKS) entry.object = (await writer.put(BlobType.OBJECT, encode(chunked.refs))).mac
  else entry.chunks = chunked.refs
  return {entry, same: false}
}

function openContent(record: ImportRecord, signal: AbortSignal): Promise<Readable> {
  if (!record.open) throw new Error('the importer gave no content for this file')
  return record.open({signal})
}

/**
 * Chunks content on this thread, by the same route as the workers (ChunkSealer, then the
 * writer's putSealed): only when there is no worker pool (code run from TypeScript sources).
 */
async function chunkHere(repo: Repository, record: ImportRecord, sink: ChunkSink, signal: AbortSignal, sniff?: Sniff): Promise<ChunkedFile> {
  const stream = await openContent(record, signal)
  const head = sniff ? new FirstBytes() : undefined
  const chunker = repo.chunker()
  const sealer = new ChunkSealer(repo.keys, repo.compressor, (mac) => repo.cache.hasBlob(BlobType.CHUNK, mac))
  const refs: ChunkRef[] = []
  let size = 0
  const store = async (chunk: Buffer) => {
    const {mac, length, sealed} = sealer.seal(chunk)
    refs.push([mac, length])
    size += length
    await sink(mac, length, sealed, 0)
  }
  try {
    for await (const data of stream) {
      head?.add(data as Buffer)
      for (const chunk of chunker.push(data as Buffer)) await store(chunk)
    }
    const last = chunker.end()
    if (last) await store(last)
  } catch (error) {
    stream.destroy()
    throw error
  }
  const contentType = sniff && head ? await sniffType(sniff.name, sniff.guess, head.bytes()) : undefined
  return {refs, size, contentType}
}

/**
 * Whether a parent entry's content is still in the repository. Until maintenance deletes a
 * packfile (or a state is unreadable), everything a published snapshot references is indexed:
 * only then look each chunk up.
 */
async function stillStored(repo: Repository, snapshot: Snapshot, entry: Entry, deletions: boolean): Promise<boolean> {
  if (!deletions) return true
  // A large file's chunk list may be indexed while its chunks are not: look at both.
  if (entry.object && !repo.cache.hasBlob(BlobType.OBJECT, Buffer.from(entry.object))) return false
  const refs = await snapshot.chunks(entry).catch(() => undefined)
  return refs !== undefined && refs.every(([mac]) => repo.cache.hasBlob(BlobType.CHUNK, Buffer.from(mac)))
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied'
  if (e?.code === 'ENOENT') return 'vanished during the backup'
  if (e?.code === 'ELOOP') return 'replaced by a symbolic link during the backup'
  return e?.message ?? String(error)
}

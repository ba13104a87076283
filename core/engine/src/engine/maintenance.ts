import {IntegrityError, isNotFound, isRetained, PlakarError} from '@plakar/sdk'
import {openBlob} from '../format/blob.js'
import {BlobType} from '../format/blob-type.js'
import {decodeHeader, infoOf} from '../format/snapshot.js'
import {emptyDelta, type StateDelta, type StatePackfile} from '../format/state.js'
import {listLocks, RepositoryLock, staleness, type LockOwner} from '../repository/lock.js'
import type {BlobSet} from '../repository/cache.js'
import type {Repository} from '../repository/repository.js'
import {RepositoryWriter} from '../repository/writer.js'
import {requireDeletable} from '../repository/storage-capabilities.js'
import {NodeCache, TreeReader, type NodeStore} from '../tree/btree.js'
import {decodeEntry, type ChunkRef} from '../tree/entry.js'
import {decode} from '../format/codec.js'
import {currentOwner} from './state-event.js'
import {extendLiveRetention} from './worm.js'

/**
 * Repository maintenance, the only operation that deletes stored data.
 *
 * 1. Live set: every blob a live snapshot references (header, tree and index nodes, chunk lists,
 *    chunks), in a temporary SQLite table, never on the heap.
 * 2. Un-mark: a packfile marked earlier that holds a live blob found nowhere else is un-marked
 *    (a snapshot reused it during the grace period).
 * 3. Mark: packfiles without a live blob, and packfiles repacked (live share below the
 *    threshold: their live blobs are copied, sealed bytes as they are, into new packfiles, which a
 *    state lists before the old ones are marked). A mark is a state event; marked packfiles'
 *    blobs count as absent for every reader and writer (a backup writes them again).
 * 4. Sweep: packfiles marked at least `grace` ago are deleted from the storage, then a state
 *    records the deletion. Not while a writer that may have relied on them runs: a packfile
 *    marked after a live lock was taken waits for the next maintenance.
 * 5. Compaction: every state merged here becomes a few compacted states (written first), then
 *    the old ones are deleted; any state written meanwhile is left alone.
 *
 * Every step writes new objects before deleting old ones, so a crash at any point leaves a
 * repository that opens, checks and restores, and the next maintenance completes the work.
 */
export interface MaintenanceOptions {
  /** ms a packfile stays marked before it is deleted (default 7 days). */
  grace?: number
  /** Packfiles whose live share is below this fraction are repacked (default 0.5; 0 disables). */
  repackThreshold?: number
  /**
   * Beyond that, the sparsest packfiles are repacked until the unused bytes left in partly
   * used packfiles are at most this fraction of the live bytes (default 0.05, as restic's
   * --max-unused; 1 or more disables).
   */
  maxUnused?: number
  /** Compact the states (default true). */
  compact?: boolean
  /** Index entries per compacted state (default {@link COMPACT_BLOBS}; tests make it small). */
  stateBlobs?: number
  /** Report what would be done, change nothing. */
  dryRun?: boolean
  /**
   * Take the exclusive maintenance lock (default true). Only tests turn it off, to show that the
   * marking protocol alone keeps concurrent backups safe.
   */
  lock?: boolean
  owner?: LockOwner
  now?: () => number
  signal?: AbortSignal
  onProgress?: (progress: MaintenanceProgress) => void
}

export interface MaintenanceProgress {
  phase: 'live set' | 'repack' | 'sweep' | 'compaction'
  done: number
  total: number
}

export interface MaintenanceReport {
  dryRun: boolean
  snapshots: number
  liveBlobs: number
  packfiles: number
  /** Packfiles marked by this run (unreferenced or repacked), and their bytes. */
  marked: number
  markedBytes: number
  unmarked: number
  /** Packfiles rewritten, the live bytes copied out of them, and the packfiles written. */
  repacked: number
  repackedBytes: number
  newPackfiles: number
  /** Packfiles deleted from the storage and their bytes: what came back. */
  deleted: number
  freedBytes: number
  /** Marked packfiles still in their grace period (or held for a running writer). */
  waiting: number
  waitingBytes: number
  /** Marked packfiles the storage refused to delete (object lock), with the reason. */
  retained: {packfile: string; reason: string}[]
  /** States before and after compaction (equal when nothing was compacted). */
  statesBefore: number
  statesAfter: number
  /**
   * On a WORM storage (Object Lock): live packfiles and states whose retention was extended to
   * `retainedUntil` (ms), the storage's lock period from now; 0 and absent elsewhere.
   */
  retentionExtended: number
  retainedUntil?: number
}

export const DEFAULT_GRACE_MS = 7 * 86_400_000
export const DEFAULT_REPACK_THRESHOLD = 0.5
export const DEFAULT_MAX_UNUSED = 0.05
/**
 * Index entries per compacted state, however many a packfile holds. A state is built, encoded
 * and written whole, and read and decoded whole by every client that rebuilds its cache: its
 * entries are what the heap holds at that moment (50,000 per state made compaction the peak of
 * maintenance's memory, 260 MiB for 200,000 blobs; a packfile of 33,000 small chunks listed
 * whole in one state, 292 MiB for 400,000). 10,000 is about 0.5 MB stored.
 */
export const COMPACT_BLOBS = 10_000
/** A metadata packfile below maxSize / this is small: maintenance merges small ones. */
const SMALL_PACKFILE_DIVISOR = 8
/** Clocks of different hosts may disagree by this much (locks compare their timestamps). */
const CLOCK_MARGIN_MS = 5 * 60_000

export async function maintain(repo: Repository, options: MaintenanceOptions = {}): Promise<MaintenanceReport> {
  const grace = options.grace ?? DEFAULT_GRACE_MS
  const threshold = options.repackThreshold ?? DEFAULT_REPACK_THRESHOLD
  const now = options.now ?? Date.now
  const owner = options.owner ?? currentOwner()
  const dryRun = !!options.dryRun
  requireDeletable(repo.storage, 'be maintained')
  const lock = dryRun || options.lock === false ? undefined : await RepositoryLock.acquire(repo, 'exclusive', owner)
  const live = repo.cache.blobSet()
  try {
    await repo.refresh()
    if (repo.damagedStates.length > 0) {
      throw new IntegrityError(
        `state ${repo.damagedStates[0].id.slice(0, 16)} is unreadable, so what snapshots reference cannot be known: nothing was changed; run "plakar check"`,
      )
    }
    const report: MaintenanceReport = {
      dryRun,
      snapshots: 0,
      liveBlobs: 0,
      packfiles: 0,
      marked: 0,
      markedBytes: 0,
      unmarked: 0,
      repacked: 0,
      repackedBytes: 0,
      newPackfiles: 0,
      deleted: 0,
      freedBytes: 0,
      waiting: 0,
      waitingBytes: 0,
      retained: [],
      statesBefore: repo.cache.knownStates().size,
      statesAfter: 0,
      retentionExtended: 0,
    }
    report.snapshots = await collectLive(repo, live, options)
    report.liveBlobs = live.size()

    // Where each live blob is read from, and the live bytes of each packfile.
    const liveBytes = new Map<string, number>()
    const unmark = new Set<string>()
    for (const {type, mac} of live.entries()) {
      const loc = repo.cache.locate(type, mac)
      if (loc) {
        liveBytes.set(loc.pack, (liveBytes.get(loc.pack) ?? 0) + loc.length)
        continue
      }
      const marked = repo.cache.markedCopy(type, mac)
      if (marked) {
        unmark.add(marked.pack)
        continue
      }
      throw new IntegrityError(`${repo.missingBlob(type, mac)}, yet a snapshot references it: nothing was changed; run "plakar check"`)
    }
    options.signal?.throwIfAborted()

    const packs = repo.cache.packfiles()
    report.packfiles = packs.length
    const dead: string[] = []
    const sparse: string[] = []
    const partly: {id: string; used: number; total: number}[] = []
    const sizeOf = new Map<string, number>()
    let liveTotal = 0
    for (const {id} of packs) {
      const total = repo.cache.blobBytesOfPack(id)
      sizeOf.set(id, total)
      const used = liveBytes.get(id) ?? 0
      liveTotal += used
      if (used === 0) dead.push(id)
      else if (threshold > 0 && used < threshold * total) sparse.push(id)
      else if (used < total) partly.push({id, used, total})
    }
    // Then the sparsest of the rest, until what stays unused is small against what is live.
    const maxUnused = options.maxUnused ?? DEFAULT_MAX_UNUSED
    let unused = partly.reduce((n, p) => n + p.total - p.used, 0)
    for (const p of partly.sort((a, b) => a.used / a.total - b.used / b.total)) {
      if (unused <= maxUnused * liveTotal) break
      sparse.push(p.id)
      unused -= p.total - p.used
    }
    // Small metadata packfiles (a snapshot header alone in each of 10,000 hourly backups) are
    // merged into full ones: fewer objects to list, fetch and index when headers and trees are
    // read. One alone is left as it is, or every run would rewrite the merged one again.
    const sparseSet = new Set(sparse)
    const small = packs.filter(
      (p) => p.kind === 'meta' && !sparseSet.has(p.id) && (liveBytes.get(p.id) ?? 0) > 0 && (sizeOf.get(p.id) ?? 0) < repo.config.packfile.maxSize / SMALL_PACKFILE_DIVISOR,
    )
    if (small.length >= 2) for (const {id} of small) sparse.push(id)

    if (!dryRun && unmark.size > 0) {
      const delta = emptyDelta(owner.host)
      delta.unmarkedPackfiles = [...unmark].map((id) => ({id, time: now()}))
      lock?.assertHeld()
      await repo.writeState(delta)
    }
    report.unmarked = unmark.size

    // Repack: live blobs of sparse packfiles into new packfiles, listed before the old go.
    const repacked: string[] = []
    let rewritten = new Set<string>()
    if (sparse.length > 0) {
      const writer = dryRun ? undefined : new RepositoryWriter(repo, {host: owner.host})
      let done = 0
      for (const pack of sparse) {
        options.signal?.throwIfAborted()
        const blobs = repo.cache.blobsOfPack(pack).filter((b) => live.has(b.type, b.mac) && repo.cache.locate(b.type, b.mac)?.pack === pack)
        if (writer) {
          const end = blobs.reduce((n, b) => Math.max(n, b.offset + b.length), 0)
          let bytes: Buffer
          try {
            bytes = await repo.reader.range(pack, 0, end)
          } catch (error) {
            if (error instanceof PlakarError && error.plakarExitCode === 65) {
              repo.logger.warn(`packfile ${pack.slice(0, 16)} is unreadable (${error.message}): not repacked; run "plakar check"`)
              continue
            }
            throw error
          }
          let intact = true
          for (const b of blobs) {
            const sealed = bytes.subarray(b.offset, b.offset + b.length)
            try {
              // Copied sealed, as stored; opened first so that damage is never copied along.
              openBlob(repo.keys, repo.compressor, b.type, b.mac, sealed)
            } catch {
              intact = false
              break
            }
          }
          if (!intact) {
            repo.logger.warn(`packfile ${pack.slice(0, 16)} holds a damaged blob: not repacked; run "plakar check"`)
            continue
          }
          for (const b of blobs) await writer.putSealed(b.type, b.mac, Buffer.from(bytes.subarray(b.offset, b.offset + b.length)), b.raw, true)
        }
        repacked.push(pack)
        report.repackedBytes += blobs.reduce((n, b) => n + b.length, 0)
        options.onProgress?.({phase: 'repack', done: ++done, total: sparse.length})
      }
      if (writer) {
        lock?.assertHeld()
        await writer.commit()
        report.newPackfiles = writer.stats.packfiles
        rewritten = writer.storedIds
      }
      report.repacked = repacked.length
    }

    // Mark what no snapshot needs any more: unreferenced packfiles, and the repacked ones. A
    // packfile the repack just wrote again (same blobs, same order, so the same id as one an
    // interrupted maintenance wrote) holds what was copied: it stays.
    const toMark = [...dead, ...repacked].filter((id) => !rewritten.has(id))
    report.marked = toMark.length
    report.markedBytes = toMark.reduce((n, id) => n + (sizeOf.get(id) ?? 0), 0)
    if (!dryRun && toMark.length > 0) {
      const delta = emptyDelta(owner.host)
      const time = now()
      delta.markedPackfiles = toMark.map((id) => ({id, time}))
      lock?.assertHeld()
      await repo.writeState(delta)
    }

    // Sweep packfiles whose grace period is over.
    const marked = dryRun
      ? [...repo.cache.markedPackfiles().filter((m) => !unmark.has(m.id)), ...toMark.map((id) => ({id, marked: now()}))]
      : repo.cache.markedPackfiles()
    const writers = (await listLocks(repo)).filter((l) => l.id !== lock?.id && l.info.mode === 'shared' && staleness(l.info) === undefined)
    const due: string[] = []
    for (const m of marked) {
      const bytes = sizeOf.get(m.id) ?? repo.cache.blobBytesOfPack(m.id)
      // A writer that started before the mark may have deduplicated against this packfile.
      const heldFor = writers.some((w) => w.info.created < m.marked + CLOCK_MARGIN_MS)
      if (now() - m.marked >= grace && !heldFor) due.push(m.id)
      else {
        report.waiting++
        report.waitingBytes += bytes
      }
    }
    const deleted: string[] = []
    let swept = 0
    for (const id of due) {
      options.signal?.throwIfAborted()
      const bytes = sizeOf.get(id) ?? repo.cache.blobBytesOfPack(id)
      if (dryRun) {
        report.deleted++
        report.freedBytes += bytes
        continue
      }
      let size = bytes
      try {
        size = (await repo.storage.stat('packfile', id)).size
        await repo.storage.delete('packfile', id)
      } catch (error) {
        if (isRetained(error)) {
          report.retained.push({packfile: id, reason: error.message})
          continue
        }
        // Deleted by an earlier, interrupted maintenance: only its state is missing.
        if (!isNotFound(error)) throw error
        size = 0
      }
      deleted.push(id)
      report.deleted++
      report.freedBytes += size
      options.onProgress?.({phase: 'sweep', done: ++swept, total: due.length})
    }
    if (deleted.length > 0) {
      const delta = emptyDelta(owner.host)
      delta.deletedPackfiles = deleted
      await repo.writeState(delta)
    }

    report.statesAfter = report.statesBefore
    if (!dryRun && options.compact !== false) {
      lock?.assertHeld()
      report.statesAfter = await compact(repo, owner.host, options)
    }
    if (!dryRun) {
      // A WORM storage: what live snapshots still use (old packfiles reused by deduplication,
      // the packfiles a repack wrote, the compacted states) stays locked a whole lock period
      // from now; what was marked is left to expire.
      lock?.assertHeld()
      const extended = await extendLiveRetention(repo, {signal: options.signal, now: now()})
      report.retentionExtended = extended.objects
      if (extended.until !== undefined) report.retainedUntil = extended.until
    }
    return report
  } finally {
    live.drop()
    await lock?.release().catch(() => {})
  }
}

/** Adds every blob the live snapshots reference to `live`; returns the number of snapshots. */
async function collectLive(repo: Repository, live: BlobSet, options: MaintenanceOptions): Promise<number> {
  const store: NodeStore = {
    getNode: (type, mac) => repo.reader.read(type, mac, {includeMarked: true}),
    putNode: () => Promise.reject(new Error('read-only')),
  }
  const rows = repo.cache.snapshots()
  // The walk visits each node once (a subtree already live is skipped): caching nodes would
  // only hold memory that grows with the trees, up to the repository's 32 MB node cache,
  // which decoded is several times that.
  const nodeCache = new NodeCache(2 * 1024 * 1024)
  let done = 0
  for (const row of rows) {
    options.signal?.throwIfAborted()
    const sid = row.id.toString('hex').slice(0, 16)
    try {
      live.add(BlobType.SNAPSHOT, row.header)
      const data = await repo.reader.read(BlobType.SNAPSHOT, row.header, {includeMarked: true})
      const header = decodeHeader(data)
      const trees: [number, Buffer][] = [
        [BlobType.VFS_NODE, Buffer.from(header.trees.vfs)],
        [BlobType.NAME_NODE, Buffer.from(header.trees.names)],
        [BlobType.TYPE_NODE, Buffer.from(header.trees.types)],
      ]
      for (const [type, root] of trees) {
        const tree = new TreeReader(store, type, root, nodeCache)
        // A node already live was walked with everything below it (an unchanged subtree).
        for await (const node of tree.nodes((mac) => live.has(type, mac))) {
          live.add(type, node.mac)
          if (type !== BlobType.VFS_NODE || node.level > 0) continue
          for (const [, value] of node.entries) {
            const entry = decodeEntry(value)
            if (entry.xattrs && entry.xattrs.length === 32) live.add(BlobType.XATTRS, Buffer.from(entry.xattrs))
            let refs: ChunkRef[] = entry.chunks ?? []
            if (entry.object) {
              const object = Buffer.from(entry.object)
              if (!live.add(BlobType.OBJECT, object)) continue
              refs = decode<ChunkRef[]>(await repo.reader.read(BlobType.OBJECT, object, {includeMarked: true}))
            }
            for (const [mac] of refs) live.add(BlobType.CHUNK, Buffer.from(mac))
          }
        }
      }
    } catch (error) {
      if (error instanceof PlakarError && error.plakarExitCode !== 65) throw error
      throw new IntegrityError(`snapshot ${sid} cannot be read whole (${(error as Error).message}): nothing was changed; run "plakar check"`, {
        cause: error,
      })
    }
    options.onProgress?.({phase: 'live set', done: ++done, total: rows.length})
  }
  return rows.length
}

/**
 * Rewrites everything the merged states say as a few compacted states, then deletes the states
 * they supersede. Returns the number of states left.
 */
async function compact(repo: Repository, host: string, options: MaintenanceOptions): Promise<number> {
  const listed: string[] = []
  for await (const id of repo.storage.list('state')) listed.push(id)
  const known = repo.cache.knownStates()
  const merged = listed.filter((id) => known.has(id))
  if (merged.length <= 1) return listed.length
  // Each compacted state is written as soon as it is full, so that memory holds one state's
  // worth of index entries whatever the size of the index.
  let written = 0
  const write = async (delta: StateDelta, total?: number) => {
    options.signal?.throwIfAborted()
    await repo.writeState(delta)
    written++
    options.onProgress?.({phase: 'compaction', done: written, total: total ?? written + 2})
  }
  const limit = options.stateBlobs ?? COMPACT_BLOBS
  let current = emptyDelta(host)
  let blobs = 0
  // The list of packfiles is taken whole first: writing a state updates the cache it comes from.
  for (const {id, kind} of repo.cache.allPackfiles()) {
    // A packfile whose index is longer than what is left of the state goes on in the next one
    // (the index is the union of the states): a state is bounded by `limit` entries whatever
    // the packfile; 33,000 small chunks fit in one data packfile.
    let part: StatePackfile | undefined
    for (const entry of repo.cache.indexEntriesOfPack(id)) {
      if (blobs === limit) {
        await write(current)
        current = emptyDelta(host)
        blobs = 0
        part = undefined
      }
      if (!part) {
        part = {id, kind: kind as StatePackfile['kind'], blobs: []}
        current.packfiles.push(part)
      }
      part.blobs.push(entry)
      blobs++
    }
    // One with no blob indexed is listed all the same, as the merged states list it.
    if (!part) current.packfiles.push({id, kind: kind as StatePackfile['kind'], blobs: []})
  }
  current.markedPackfiles = repo.cache.markedPackfiles().map((m) => ({id: m.id, time: m.marked}))
  const tombstones = repo.cache.tombstones()
  current.deletedSnapshots = tombstones.snapshots
  current.deletedPackfiles = tombstones.packfiles
  for (const row of repo.cache.snapshots()) {
    const info = row.info ?? infoOf(await repo.snapshotHeader(row.id, row.header))
    current.snapshots.push({id: row.id, header: row.header, time: row.time, info})
  }
  const liveIds = new Set(current.snapshots.map((s) => s.id.toString('hex')))
  current.tagEdits = repo.cache.tagEdits().filter((e) => liveIds.has(e.id.toString('hex')))
  // Superseded states of earlier compactions too: a client that missed several compactions
  // can still tell a state compacted away from one that vanished (32 bytes per state).
  current.supersedes = [...new Set([...merged, ...repo.cache.supersededStates()])].sort()
  await write(current, written + 2)
  // Only once every compacted state is stored: a crash before leaves both, which merge alike.
  const deleted: string[] = []
  for (const id of merged) {
    try {
      await repo.storage.delete('state', id)
    } catch (error) {
      // A locked state stays: it merges with the compacted ones to the same content.
      if (isRetained(error)) continue
      if (!isNotFound(error)) throw error
    }
    deleted.push(id)
  }
  options.onProgress?.({phase: 'compaction', done: written + 1, total: written + 1})
  // The cache merged the compacted states as they were written, and the superseded ones
  // before: made what a rebuild from the compacted states gives, in place. A rebuild decoded
  // the whole index again, and was the peak of maintenance's memory.
  // A state the storage kept (object lock): the refresh rebuilds the cache, as it always did.
  if (deleted.length === merged.length) repo.cache.forgetCompactedStates(deleted)
  await repo.refresh()
  return listed.length - merged.length + written
}

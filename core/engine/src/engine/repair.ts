import {createReadStream} from 'node:fs'
import {hostname} from 'node:os'
import type {Readable} from 'node:stream'
import {type Importer, isFatal, isScanError} from '@plakar/sdk'
import {BlobType} from '../format/blob-type.js'
import {encode} from '../format/codec.js'
import type {SnapshotHeader} from '../format/snapshot.js'
import {sweepLeftovers} from '../repository/leftovers.js'
import {RepositoryLock} from '../repository/lock.js'
import {findLostPackfiles, recordLostPackfiles} from '../repository/lost-packfiles.js'
import type {Repository} from '../repository/repository.js'
import {RepositoryWriter} from '../repository/writer.js'
import {INLINE_CHUNKS, type ChunkRef, type Entry} from '../tree/entry.js'
import {Snapshot} from './snapshot.js'

export interface RepairOptions {
  /**
   * The importer that reads a snapshot's source again, or a reason it cannot be reached.
   * Called once per distinct source (importer type, origin and root).
   */
  importerFor: (header: SnapshotHeader) => Promise<Importer | string>
  dryRun?: boolean
  host?: string
  user?: string
  signal?: AbortSignal
  onProgress?: (progress: RepairProgress) => void
}

export interface RepairProgress {
  phase: 'scan' | 'read'
  snapshots: number
  files: number
}

/** Something a repair could not make whole again. */
export interface Unrepairable {
  snapshot: string
  /** Absent when a whole snapshot is concerned (its file tree is damaged). */
  path?: string
  reason: string
}

export interface RepairResult {
  lostPackfiles: string[]
  snapshots: number
  /** Files (counted once per snapshot) whose content was incomplete. */
  damaged: number
  /** Of those, the ones made whole again. */
  repaired: number
  unrepairable: Unrepairable[]
  dryRun: boolean
}

interface Damaged {
  snapshot: string
  entry: Entry
  /** Its chunk list, when readable. */
  refs?: ChunkRef[]
}

interface Source {
  header: SnapshotHeader
  /** Damaged files of every snapshot of this source, by path. */
  files: Map<string, Damaged[]>
}

/**
 * Makes snapshots whole again after data was lost (a packfile deleted or found missing): every
 * file of every live snapshot whose content is no longer fully stored is read again from its
 * source, and when the source still has exactly the content the snapshot recorded (same chunks,
 * hence same MACs: chunking is deterministic for one repository), the missing chunks and chunk
 * lists are stored again. Snapshots are not rewritten: their trees name blobs by MAC, and those
 * blobs become available again. What cannot be saved (a file that changed or vanished, a damaged
 * file tree) is reported.
 *
 * Memory holds the damaged files only, never one entry per file of the repository.
 */
export async function repair(repo: Repository, options: RepairOptions): Promise<RepairResult> {
  const host = options.host ?? hostname()
  const signal = options.signal ?? new AbortController().signal
  const dryRun = !!options.dryRun
  const lock = dryRun ? undefined : await RepositoryLock.acquire(repo, 'shared', {host: hostname(), pid: process.pid, user: options.user ?? 'plakar'})
  if (lock) await sweepLeftovers(repo)
  const writer = new RepositoryWriter(repo, {host, dryRun})
  const result: RepairResult = {lostPackfiles: [], snapshots: 0, damaged: 0, repaired: 0, unrepairable: [], dryRun}
  try {
    result.lostPackfiles = (await findLostPackfiles(repo, signal)).ids
    if (!dryRun) await recordLostPackfiles(repo, result.lostPackfiles, host)

    const sources = new Map<string, Source>()
    const progress: RepairProgress = {phase: 'scan', snapshots: 0, files: 0}
    for (const row of repo.cache.snapshots()) {
      signal.throwIfAborted()
      const sid = row.id.toString('hex')
      let header: SnapshotHeader
      try {
        header = await repo.snapshotHeader(row.id, row.header)
      } catch (error) {
        result.unrepairable.push({snapshot: sid, reason: `its header is unreadable: ${(error as Error).message}`})
        continue
      }
      result.snapshots++
      const snapshot = new Snapshot(repo, header)
      const key = JSON.stringify([header.importer.type, header.importer.origin, header.importer.root])
      let source = sources.get(key)
      try {
        for await (const [path, entry] of snapshot.walk(header.importer.root)) {
          if (entry.info.type !== 'file' || entry.error) continue
          progress.files++
          const state = await contentState(repo, snapshot, entry)
          if (state.complete) continue
          result.damaged++
          if (!source) sources.set(key, (source = {header, files: new Map()}))
          const list = source.files.get(path) ?? []
          list.push({snapshot: sid, entry, refs: state.refs})
          source.files.set(path, list)
        }
      } catch (error) {
        // Tree nodes are not in the source: they cannot be rebuilt from it.
        result.unrepairable.push({snapshot: sid, reason: `its file tree is damaged: ${(error as Error).message}`})
      }
      progress.snapshots++
      options.onProgress?.(progress)
    }

    progress.phase = 'read'
    for (const source of sources.values()) {
      const found = new Set<string>()
      const importer = await options.importerFor(source.header).catch((error: unknown) => `its source cannot be opened: ${(error as Error).message}`)
      if (typeof importer === 'string') {
        for (const [path, list] of source.files) for (const d of list) result.unrepairable.push({snapshot: d.snapshot, path, reason: importer})
        continue
      }
      try {
        // Only the directories on the way to a damaged file are read.
        const ancestors = new Set<string>()
        for (const path of source.files.keys()) {
          for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) ancestors.add(path.slice(0, at))
          ancestors.add('/')
        }
        const skip = (path: string, isDirectory: boolean) => !(source.files.has(path) || (isDirectory && ancestors.has(path)))
        for await (const item of importer.scan({signal, skip})) {
          if (isScanError(item) || item.info.type !== 'file') continue
          const wanted = source.files.get(item.path)
          if (!wanted) continue
          found.add(item.path)
          const open = item.open ? () => item.open!() : item.localPath ? () => Promise.resolve(createReadStream(item.localPath!)) : undefined
          let outcomes: (string | undefined)[]
          if (!open) {
            outcomes = wanted.map(() => 'its source gives no content for it')
          } else {
            try {
              outcomes = await restoreContent(repo, writer, await open(), wanted)
            } catch (error) {
              if (isFatal(error) || writer.failure !== undefined) throw error
              outcomes = wanted.map(() => `its source could not be read: ${(error as Error).message}`)
            }
          }
          wanted.forEach((d, i) => {
            const why = outcomes[i]
            if (why === undefined) result.repaired++
            else result.unrepairable.push({snapshot: d.snapshot, path: item.path, reason: why})
          })
          progress.files++
          options.onProgress?.(progress)
        }
      } finally {
        await importer.close()
      }
      for (const [path, list] of source.files) {
        if (!found.has(path)) for (const d of list) result.unrepairable.push({snapshot: d.snapshot, path, reason: 'it is no longer in the source'})
      }
    }
    lock?.assertHeld()
    await writer.commit()
    return result
  } catch (error) {
    await writer.abandon(error).catch(() => {})
    throw error
  } finally {
    await lock?.release().catch(() => {})
  }
}

/** Whether every blob of a file's content is stored in a live packfile; its chunk list when readable. */
async function contentState(repo: Repository, snapshot: Snapshot, entry: Entry): Promise<{complete: boolean; refs?: ChunkRef[]}> {
  if (entry.object && !repo.cache.hasBlob(BlobType.OBJECT, Buffer.from(entry.object))) return {complete: false}
  let refs: ChunkRef[]
  try {
    refs = await snapshot.chunks(entry)
  } catch {
    return {complete: false}
  }
  return {complete: refs.every(([mac]) => repo.cache.hasBlob(BlobType.CHUNK, Buffer.from(mac))), refs}
}

/**
 * Chunks a file read from the source and stores the chunks the repository lacks. Says, for
 * each wanted entry in order, undefined when its recorded content is exactly this one (it is
 * whole again) or why it cannot be repaired.
 */
async function restoreContent(repo: Repository, writer: RepositoryWriter, stream: Readable, wanted: Damaged[]): Promise<(string | undefined)[]> {
  const chunker = repo.chunker()
  const refs: ChunkRef[] = []
  // Chunks are stored only when they belong to a recorded content (when it is known: a lost
  // chunk list says nothing): a changed file must not fill the repository with unused blobs.
  const needed = new Set<string>()
  let unknown = false
  for (const d of wanted) {
    if (d.refs) for (const [mac] of d.refs) needed.add(Buffer.from(mac).toString('hex'))
    else unknown = true
  }
  const store = async (chunk: Buffer) => {
    const mac = writer.mac(chunk)
    refs.push([mac, chunk.length])
    if (unknown || needed.has(mac.toString('hex'))) await writer.put(BlobType.CHUNK, chunk, mac)
  }
  try {
    for await (const data of stream) {
      for (const chunk of chunker.push(data as Buffer)) await store(chunk)
    }
    const last = chunker.end()
    if (last) await store(last)
  } finally {
    stream.destroy()
  }
  const listMac = refs.length > INLINE_CHUNKS ? writer.mac(encode(refs)) : undefined
  const matches = (entry: Entry) =>
    entry.object
      ? listMac !== undefined && listMac.equals(Buffer.from(entry.object))
      : entry.chunks !== undefined &&
        entry.chunks.length === refs.length &&
        entry.chunks.every(([mac, length], i) => length === refs[i][1] && Buffer.from(mac).equals(refs[i][0]))
  const outcomes = wanted.map((d) => (matches(d.entry) ? undefined : 'it changed in the source since the snapshot was taken'))
  if (listMac && wanted.some((d, i) => d.entry.object && outcomes[i] === undefined)) await writer.put(BlobType.OBJECT, encode(refs), listMac)
  return outcomes
}

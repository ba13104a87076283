import {Readable} from 'node:stream'
import {type Exporter, type FileInfo, isFatal, TaskPool} from '@plakar/sdk'
import {normalizeStoredPath} from '../tree/path-key.js'
import type {Entry} from '../tree/entry.js'
import {BlobType} from '../format/blob-type.js'
import {blobKey} from '../repository/blob-reader.js'
import type {Snapshot} from './snapshot.js'

export interface RestoreProgress {
  files: number
  bytes: number
  totalFiles: number
  totalBytes: number
  errors: number
  /**
   * Of the errors, those due to damaged or missing data (a tree node, a chunk): the restore
   * went around them. Each is reported through onError.
   */
  damaged: number
}

export interface RestoreOptions {
  skipPermissions?: boolean
  concurrency?: number
  onProgress?: (progress: RestoreProgress) => void
  onError?: (path: string, error: string) => void
  signal?: AbortSignal
}

/** Small files are restored in batches whose chunks are fetched together (coalesced reads). */
const BATCH_FILES = 512
const BATCH_BYTES = 16 * 1024 * 1024
/** Files larger than this are streamed on their own. */
const SMALL_FILE = 4 * 1024 * 1024

/**
 * Units of work (a batch of small files, one large file, one hard link) get increasing ids and
 * finish in any order; an action registered "after unit N" runs once every unit up to N is done.
 * A directory's metadata is applied after the units holding its files, without holding the walk.
 */
class Units {
  #next = 0
  #prefix = -1
  readonly #done = new Set<number>()
  #waiting: {after: number; run: () => Promise<void>}[] = []
  readonly #running = new Set<Promise<void>>()

  start(): number {
    return this.#next++
  }

  get last(): number {
    return this.#next - 1
  }

  finish(id: number): void {
    this.#done.add(id)
    while (this.#done.delete(this.#prefix + 1)) this.#prefix++
    const ready = this.#waiting.filter((w) => w.after <= this.#prefix)
    this.#waiting = this.#waiting.filter((w) => w.after > this.#prefix)
    for (const w of ready) this.#track(w.run())
  }

  after(id: number, run: () => Promise<void>): void {
    if (id <= this.#prefix) this.#track(run())
    else this.#waiting.push({after: id, run})
  }

  #track(p: Promise<void>): void {
    this.#running.add(p)
    void p.finally(() => this.#running.delete(p))
  }

  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running)
  }
}

interface PendingFile {
  path: string
  rel: string
  entry: Entry
}

/**
 * Restores the entry at `path` of a snapshot (a directory's content, or one file under its own
 * name) into an exporter. Paths that are not canonical ("..", empty components) are refused,
 * whatever the snapshot says; the exporter is trusted only with paths inside its root.
 * Directories get their metadata after all their children, so their mtimes stick.
 */
export async function restore(snapshot: Snapshot, path: string, exporter: Exporter, options: RestoreOptions = {}): Promise<RestoreProgress> {
  let top: Entry
  /** The tree node holding the entry restored is damaged: what lies below may not be. */
  let topDamage: unknown
  try {
    top = await snapshot.requireEntry(path)
  } catch (error) {
    if ((error as {plakarExitCode?: unknown})?.plakarExitCode !== 65) throw error
    topDamage = error
    top = {info: {type: 'directory', size: 0, mode: 0o700}}
  }
  const below = top.summary?.below
  const progress: RestoreProgress = {
    files: 0,
    bytes: 0,
    totalFiles: top.info.type === 'file' ? 1 : (below?.files ?? 0),
    totalBytes: top.info.type === 'file' ? top.info.size : (below?.size ?? 0),
    errors: 0,
    damaged: 0,
  }
  const fail = (p: string, error: string) => {
    progress.errors++
    options.onError?.(p, error)
  }
  /** Per-file failures are reported and the restore goes on; a failure of the whole storage or target ends it. */
  const failFile = (p: string, error: unknown) => {
    if (isFatal(error) || options.signal?.aborted) throw error
    if ((error as {plakarExitCode?: unknown})?.plakarExitCode === 65) progress.damaged++
    fail(p, (error as Error).message)
  }
  /**
   * A damaged tree node: what it held is lost, from `lostFrom` up to the next path the walk
   * yields (reported then, when the extent of the loss is known) or the end of the walk.
   */
  let lost: {from: string; why: string} | undefined
  const reportLost = (upTo: string | undefined) => {
    if (!lost) return
    progress.damaged++
    fail(lost.from, `not restored: a tree node of the snapshot is damaged (${lost.why}): the entries from ${lost.from} ${upTo ? `up to ${upTo} (excluded)` : `to the end of ${path}`} are lost`)
    lost = undefined
  }
  let anyLost = false
  const onDamaged = (from: string, error: unknown) => {
    anyLost = true
    if (lost?.from === from) return
    reportLost(from)
    lost = {from, why: (error as Error).message}
  }
  if (topDamage !== undefined) onDamaged(path, topDamage)
  /** Every exporter call carries the restore's signal: Ctrl-C stops writes in flight. */
  const call = {signal: options.signal}
  const infoOf = (entry: Entry): FileInfo =>
    options.skipPermissions ? {...entry.info, mode: undefined, uid: undefined, gid: undefined} : entry.info
  const base = path === '/' ? '' : path
  const relative = (p: string): string | undefined => {
    if (normalizeStoredPath(p) === undefined) return undefined
    if (top.info.type !== 'directory') return `/${p.slice(p.lastIndexOf('/') + 1)}`
    if (p === path) return '/'
    if (!p.startsWith(`${base}/`)) return undefined
    return p.slice(base.length)
  }
  const stored = (entry: Entry) => {
    progress.files++
    progress.bytes += entry.info.size
    options.onProgress?.(progress)
  }

  const concurrency = options.concurrency ?? 8
  const units = new Units()
  /** Units in flight: two batches or a few large files at a time bound memory. */
  const work = new TaskPool(Math.max(2, Math.ceil(concurrency / 2)))
  let fatal: unknown
  const launch = async (task: () => Promise<void>, id = units.start()) => {
    await work.run(async () => {
      try {
        await task()
      } catch (error) {
        fatal ??= error
      } finally {
        units.finish(id)
      }
    })
  }

  /**
   * Whole small files through the exporter's storeFiles: one call a batch. A rejection is the
   * whole call's failure (fatal, an abort: it ends the restore; anything else fails every file).
   */
  const storeWhole = async (whole: {file: PendingFile; parts: Buffer[]}[]) => {
    let outcomes: (Error | undefined)[]
    try {
      outcomes = await exporter.storeFiles!(
        whole.map(({file, parts}) => ({path: file.rel, parts, info: infoOf(file.entry)})),
        call,
      )
    } catch (error) {
      for (const {file} of whole) failFile(file.path, error)
      return
    }
    for (let i = 0; i < whole.length; i++) {
      const {entry, path: p} = whole[i].file
      if (outcomes[i] === undefined) stored(entry)
      else failFile(p, outcomes[i])
    }
  }

  let batch: PendingFile[] = []
  let batchBytes = 0
  /** The batch's unit is reserved with its first file, so directories closed meanwhile wait for it. */
  let batchUnit = -1
  const flush = async () => {
    if (batch.length === 0) return
    const files = batch
    batch = []
    batchBytes = 0
    await launch(async () => {
      const refs = await Promise.all(files.map((f) => snapshot.chunks(f.entry)))
      const {blobs: chunks, failed} = await snapshot.repo.reader.fetch(BlobType.CHUNK, refs.flat().map(([mac]) => mac), concurrency)
      const writes = new TaskPool(concurrency)
      /** Files whose chunks are all here, for an exporter that takes them in one call. */
      const whole: {file: PendingFile; parts: Buffer[]}[] = []
      for (let i = 0; i < files.length; i++) {
        const {path: p, rel, entry} = files[i]
        const parts: Buffer[] = []
        let problem: string | undefined
        for (const [mac] of refs[i]) {
          const chunk = chunks.get(blobKey(mac))
          if (!chunk) {
            problem = failed.get(blobKey(mac)) ?? 'a chunk is unreadable'
            break
          }
          parts.push(chunk)
        }
        if (problem) {
          progress.damaged++
          fail(p, problem)
          continue
        }
        if (exporter.storeFiles) {
          whole.push({file: files[i], parts})
          continue
        }
        await writes.run(async () => {
          try {
            await exporter.storeFile(rel, Readable.from(parts), infoOf(entry), call)
            stored(entry)
          } catch (error) {
            failFile(p, error)
          }
        })
      }
      await writes.drain()
      if (whole.length > 0) await storeWhole(whole)
    }, batchUnit)
  }

  /** Open directories, outermost first, waiting for their metadata. */
  const stack: {rel: string; entry: Entry}[] = []
  const closeDirectory = () => {
    const dir = stack.pop()!
    units.after(units.last, async () => {
      try {
        await exporter.setMetadata(dir.rel, infoOf(dir.entry), call)
      } catch (error) {
        fail(dir.rel, (error as Error).message)
      }
    })
  }
  /**
   * After a damaged tree node, the directories on the way to an entry may have been lost with
   * it: they are created (owner-only, their metadata is lost) so that what lies below is restored.
   */
  const recreateLostParents = async (rel: string) => {
    const parts = rel.split('/').filter(Boolean).slice(0, -1)
    if (stack.length === 0) {
      await exporter.createDirectory('/', {type: 'directory', size: 0, mode: 0o700}, call)
      stack.push({rel: '/', entry: {info: {type: 'directory', size: 0, mode: 0o700}}})
    }
    const have = stack.at(-1)!.rel === '/' ? 0 : stack.at(-1)!.rel.split('/').filter(Boolean).length
    for (let i = have; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i + 1).join('/')}`
      const info: FileInfo = {type: 'directory', size: 0, mode: 0o700}
      await exporter.createDirectory(dir, info, call)
      stack.push({rel: dir, entry: {info}})
    }
  }
  /** First restored path of each multiply-linked inode, and the unit that writes it. */
  const hardlinks = new Map<string, {rel: string; unit: Promise<void>}>()

  for await (const [p, entry] of snapshot.walk(path, onDamaged)) {
    options.signal?.throwIfAborted()
    if (fatal) throw fatal
    reportLost(p)
    const rel = relative(p)
    if (rel === undefined) {
      fail(p, 'refused: the path is not canonical (it could escape the restore target)')
      continue
    }
    while (stack.length > 0 && !(rel.startsWith(`${stack.at(-1)!.rel === '/' ? '' : stack.at(-1)!.rel}/`) && rel !== stack.at(-1)!.rel)) {
      closeDirectory()
    }
    if (anyLost && top.info.type === 'directory') await recreateLostParents(rel)
    if (entry.error) {
      // A directory whose listing failed is still recreated (empty), so its siblings' layout holds.
      if (entry.info.type === 'directory') {
        await exporter.createDirectory(rel, infoOf(entry), call)
        stack.push({rel, entry})
      }
      fail(p, `${entry.info.type === 'directory' ? 'its content is ' : ''}not restored: it could not be backed up (${entry.error})`)
      continue
    }
    try {
      switch (entry.info.type) {
        case 'directory':
          await exporter.createDirectory(rel, infoOf(entry), call)
          stack.push({rel, entry})
          break
        case 'symlink':
          await exporter.createLink(rel, entry.target ?? '', 'symlink', infoOf(entry), call)
          break
        case 'file': {
          const linkKey = (entry.info.nlink ?? 1) > 1 && entry.info.ino !== undefined ? `${entry.info.dev}:${entry.info.ino}` : undefined
          const first = linkKey ? hardlinks.get(linkKey) : undefined
          if (first) {
            await launch(async () => {
              await first.unit
              try {
                await exporter.createLink(rel, first.rel, 'hardlink', undefined, call)
                progress.files++
              } catch (error) {
                failFile(p, error)
              }
            })
            break
          }
          if (linkKey || entry.info.size > SMALL_FILE || entry.object) {
            // Streamed on its own; a multiply-linked file also so that later links can wait for it.
            let written!: () => void
            const unit = new Promise<void>((resolve) => (written = resolve))
            if (linkKey) hardlinks.set(linkKey, {rel, unit})
            await launch(async () => {
              try {
                await exporter.storeFile(rel, await snapshot.open(entry), infoOf(entry), call)
                stored(entry)
              } catch (error) {
                failFile(p, error)
              } finally {
                written()
              }
            })
          } else {
            if (batch.length === 0) batchUnit = units.start()
            batch.push({path: p, rel, entry})
            batchBytes += entry.info.size
            if (batch.length >= BATCH_FILES || batchBytes >= BATCH_BYTES) await flush()
          }
          break
        }
        default:
          fail(p, `not restored: ${entry.info.type} entries are not supported by this exporter`)
      }
    } catch (error) {
      if (isFatal(error)) throw error
      fail(p, (error as Error).message)
    }
  }
  reportLost(undefined)
  await flush()
  while (stack.length > 0) closeDirectory()
  await work.drain()
  await units.settle()
  if (fatal) throw fatal
  options.onProgress?.(progress)
  return progress
}

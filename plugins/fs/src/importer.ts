import {constants, existsSync, mkdirSync} from 'node:fs'
import {lstat, open} from 'node:fs/promises'
import {Readable} from 'node:stream'
import {hostname, tmpdir} from 'node:os'
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {destroyOnAbort, PlakarError, type ConnectorContext, type FileInfo, type Importer, type ImportRecord, type ScanError, type ScanOptions} from '@plakar/sdk'
import {fsPath} from './location.js'
import type {FromScanWorker, ToScanWorker} from './scan-worker.js'
import {describe, walkTree, type WalkItem} from './walk.js'

/**
 * The local filesystem as a data source: a depth-first walk (walk.ts), each directory in the
 * snapshot tree's order, run on a thread of its own (scan-worker.ts) so that waiting on the disk
 * for listings and lstat does not hold up the engine; file contents are read by the engine's
 * workers through `localPath`.
 */
export class FsImporter implements Importer {
  readonly type = 'fs'
  readonly origin = hostname()
  readonly root: string
  readonly local = true

  /** Where listings of huge directories spill their sorted runs. */
  readonly #spillDir: string

  constructor(root: string, spillDir = tmpdir()) {
    this.#spillDir = spillDir
    this.root = root
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    /** Excluded directories: nothing below them is yielded, and the walk is asked to skip them. */
    const pruned = new Set<string>()
    const below = (path: string) => {
      if (pruned.size === 0) return false
      for (let dir = dirname(path); dir.length > 1 && dir !== path; path = dir, dir = dirname(dir)) if (pruned.has(dir)) return true
      return false
    }
    let tellWalk = (_path: string) => {}
    const walk = existsSync(fileURLToPath(SCAN_WORKER))
      ? this.#walkOnWorker(options.signal, (prune) => (tellWalk = prune))
      : this.#walkHere(pruned)
    // Batch by batch: an item passed on through one more async generator (a `yield*` of the
    // batch) cost a promise and its turns of the microtask queue per entry.
    for await (const items of walk) {
      for (const item of items) {
        options.signal.throwIfAborted()
        if (item.path !== this.root && below(item.path)) continue
        if (item.error !== undefined) {
          yield {path: item.path, error: item.error, ...(item.info ? {info: item.info} : {})}
          continue
        }
        const info = item.info!
        const isDir = info.type === 'directory'
        if (item.path !== this.root && options.skip?.(item.path, isDir)) {
          if (isDir) {
            pruned.add(item.path)
            tellWalk(item.path)
          }
          continue
        }
        yield record(item.path, info, item.target)
      }
    }
  }

  /** The walk on this thread (code run from TypeScript sources, where no worker script exists), one item at a time. */
  async *#walkHere(pruned: Set<string>): AsyncGenerator<WalkItem[]> {
    for (const item of walkTree(this.root, this.#spillDir, (path) => pruned.has(path))) yield [item]
  }

  /** The walk on its own thread; `register` receives the function that asks it to prune. */
  async *#walkOnWorker(signal: AbortSignal, register: (prune: (path: string) => void) => void): AsyncGenerator<WalkItem[]> {
    // The thread started with the importer is for the first scan; any other starts its own.
    const thread = this.#early ?? new ScanThread(this.root, this.#spillDir)
    this.#early = undefined
    thread.claim()
    const stop = () => void thread.terminate()
    signal.addEventListener('abort', stop, {once: true})
    register((path) => thread.prune(path))
    try {
      for (;;) {
        const message = await thread.next()
        if (message.type === 'done') return
        if (message.type === 'failed') throw new PlakarError(`the scan of ${this.root} failed: ${message.message}`)
        thread.ack()
        yield message.items
      }
    } finally {
      signal.removeEventListener('abort', stop)
      await thread.terminate()
    }
  }

  /**
   * Starts the walk's thread now, before the first scan: booting a thread and its modules takes
   * about 0.1 s, which otherwise follows the repository's opening (the key derivation, the
   * lock, the index refresh) instead of overlapping it, and on an unchanged re-backup of a
   * 300 MB tree that is most of what the scan waits for before its first entries. The thread walks a
   * few batches ahead and then waits for the scan; a scan that never comes (an error before it)
   * ends it at close, and it does not keep the process alive meanwhile.
   */
  startEarly(): void {
    if (this.#early || !existsSync(fileURLToPath(SCAN_WORKER))) return
    this.#early = new ScanThread(this.root, this.#spillDir)
  }

  #early?: ScanThread

  async close(): Promise<void> {
    const early = this.#early
    this.#early = undefined
    await early?.terminate()
  }
}

/**
 * One walk on a thread of its own (scan-worker.ts). Its batches are kept as they arrive, from
 * the start: a thread started before its scan (FsImporter.startEarly) posts them before anyone reads them.
 */
class ScanThread {
  readonly #worker: Worker
  readonly #batches: FromScanWorker[] = []
  #wake?: () => void

  constructor(root: string, spillDir: string) {
    // The walk's objects are short-lived (entries posted in batches): a small young
    // generation keeps this thread's heap near 10 MB instead of 40.
    this.#worker = new Worker(SCAN_WORKER, {workerData: {root, spillDir}, resourceLimits: {maxYoungGenerationSizeMb: 8}})
    const arrive = (message: FromScanWorker) => {
      this.#batches.push(message)
      this.#wake?.()
      this.#wake = undefined
    }
    this.#worker.on('message', arrive)
    this.#worker.on('error', (error) => arrive({type: 'failed', message: error.message}))
    // Unclaimed, it must not keep the process alive.
    this.#worker.unref()
  }

  /** A scan reads it now: the process waits for it. */
  claim(): void {
    this.#worker.ref()
  }

  async next(): Promise<FromScanWorker> {
    while (this.#batches.length === 0) await new Promise<void>((r) => (this.#wake = r))
    return this.#batches.shift()!
  }

  #unacknowledged = 0

  /** One batch read: the walk may go one further ahead (told every ACK_EVERY batches, fewer than it walks ahead). */
  ack(): void {
    if (++this.#unacknowledged < ACK_EVERY) return
    this.#worker.postMessage({type: 'ack', batches: this.#unacknowledged} satisfies ToScanWorker)
    this.#unacknowledged = 0
  }

  prune(path: string): void {
    this.#worker.postMessage({type: 'prune', path} satisfies ToScanWorker)
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate()
  }
}


const SCAN_WORKER = new URL('./scan-worker.js', import.meta.url)
/**
 * Batches read before the walk's thread is told, in one message; fewer than it walks ahead
 * (scan-worker.ts's AHEAD, 8), or both would wait. A message a batch cost the main thread more
 * than the batch itself under load (90 of 2,300 ms of a source-tree re-backup's loop).
 */
const ACK_EVERY = 4

function record(path: string, info: FileInfo, target?: string): ImportRecord {
  const record: ImportRecord = {path, info}
  if (info.type === 'symlink') record.target = target
  else if (info.type === 'file') {
    record.open = (options) => openContent(path, info.size, options?.signal)
    record.localPath = path
  }
  return record
}

/** Files up to this size are read in one call: a stream's 1 MiB read buffer per small file costs more than the read. */
const WHOLE_READ_LIMIT = 4 * 1024 * 1024

/**
 * The file may have changed since the scan saw a regular file: a symlink put in its place is
 * never followed, a FIFO never blocks the open, and what is opened must be a regular file.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

async function openContent(path: string, size: number, signal?: AbortSignal): Promise<Readable> {
  signal?.throwIfAborted()
  const handle = await open(path, OPEN_FLAGS)
  let streamed = false
  try {
    if (!(await handle.stat()).isFile()) throw Object.assign(new Error('it is no longer a regular file'), {code: 'ENOTREG'})
    if (size <= WHOLE_READ_LIMIT) return Readable.from([await handle.readFile({signal})])
    streamed = true
    const stream = handle.createReadStream({highWaterMark: 1024 * 1024})
    return destroyOnAbort(stream, signal)
  } finally {
    if (!streamed) await handle.close()
  }
}

export default async function createImporter(context: ConnectorContext): Promise<Importer> {
  const root = fsPath(context.location)
  try {
    await lstat(root)
  } catch (error) {
    throw new PlakarError(`cannot back up ${root}: ${describe(error)}`)
  }
  mkdirSync(context.cacheDir, {recursive: true, mode: 0o700})
  // An importer is made to be scanned (a backup, a repair): its walk's thread boots meanwhile.
  const importer = new FsImporter(root, context.cacheDir)
  importer.startEarly()
  return importer
}

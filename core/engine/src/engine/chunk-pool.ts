import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {Budget, markFatal, PlakarError} from '@plakar/sdk'
import {MAC_LENGTH} from '../crypto/mac.js'
import type {Repository} from '../repository/repository.js'
import type {ChunkRef} from '../tree/entry.js'
import {CHUNK_ROW, type ChunkRows} from './chunk-batch.js'
import type {ChunkWorkerData} from './chunk-worker.js'
import {FirstBytes, signatureType, sniffType} from './content-type.js'

/** A file the worker reads itself; `sniff`: name its content type from the first bytes (content-type.ts). */
export interface FileToChunk {
  job: number
  path: string
  size: number
  sniff?: Sniff
}

/** What content detection needs besides the bytes: the file's name and the type it gives. */
export interface Sniff {
  name: string
  guess?: string
}

export type ToWorker =
  | {type: 'files'; files: FileToChunk[]}
  /** Content of a streamed file, in order; `end` after its last bytes. */
  | {type: 'stream'; job: number; data: Uint8Array; end: boolean}
  /** The source of a streamed file failed: forget what was buffered for it. */
  | {type: 'abort'; job: number}
  | {type: 'ack'; bytes: number}
  | {type: 'close'}

export type FromWorker =
  /** Bytes of a streamed file the worker has chunked: the main thread may send that many more. */
  | {type: 'consumed'; job: number; bytes: number}
  /**
   * `contentType`: the type the first bytes gave; or `sample`, first bytes for this thread to
   * look up among file-type's signatures, and `otherwise`, the type when they name none
   * (content-type.ts, Sniffed).
   */
  | {type: 'done'; job: number; size: number; contentType?: string; sample?: Uint8Array; otherwise?: string}
  | {type: 'error'; job: number; code?: string; message: string}

/**
 * What a worker sends: its messages, and its chunks as rows (chunk-batch.ts). `places[i]`: how
 * many of the batch's chunks come before `messages[i]`.
 */
export interface Batch {
  type: 'batch'
  messages: FromWorker[]
  places: number[]
  chunks?: ChunkRows
}

export interface ChunkedFile {
  refs: ChunkRef[]
  size: number
  /** The type the first bytes gave, when asked to look (`sniff`). */
  contentType?: string
}

/**
 * Receives every chunk of a file in order; `sealed` is absent when the repository already has
 * the chunk. Returning (nothing, or a promise once it resolves) frees the worker's credit for
 * the sealed bytes: a sink that is done at once returns nothing, and the next chunk follows
 * without a promise. `mac` and `sealed` may be views of a buffer shared by a worker's batch:
 * whoever keeps them long keeps that buffer (the backup's data packfiles copy the sealed bytes
 * to their spill file). `lane` is the worker that cut the chunk: the writer keeps each lane's
 * chunks together in packfiles of their own (RepositoryWriter).
 */
export type ChunkSink = (mac: Buffer, length: number, sealed: Buffer | undefined, lane: number) => Promise<void> | void

interface Job {
  refs: ChunkRef[]
  /**
   * Chunks are handled one after the other, in order: while a sink's promise is pending, the
   * next chunks wait behind it here; undefined when nothing waits.
   */
  chain: Promise<void> | undefined
  /** Why a sink failed: the file fails with it once the worker is done with it. */
  failure?: unknown
  sink: ChunkSink
  resolve: (file: ChunkedFile) => void
  reject: (error: Error) => void
  worker: Slot
  /** Of each streamed message posted and not yet chunked, in order: frees its bytes in the worker's queue. */
  queued: (() => void)[]
}

/**
 * A worker and what is waiting to be posted to it: postMessage costs tens of microseconds, so
 * new files and credit acknowledgements are sent in one message per event-loop turn.
 */
interface Slot {
  worker: Worker
  /** The worker's index: the writer lane its chunks go to. */
  index: number
  /** Files posted to the worker and not finished yet. */
  posted: number
  /** Files waiting to be posted. */
  files: FileToChunk[]
  ack: number
  flushing: boolean
  /** Streamed bytes posted to the worker and not yet chunked, whatever file they belong to. */
  streamed: Budget
}

/** A worker is sent more files when fewer than this many are queued in it… */
const LOW_WATER = 64
/** …in messages of at most this many. */
const BATCH_FILES = 512

/** Acknowledged bytes are returned to a worker in steps of this size (well below its credit). */
const ACK_STEP = 1024 * 1024
const CREDIT = 16 * 1024 * 1024

/**
 * Streamed content goes to a worker in messages of this size (a network stream yields 16-64 KiB
 * at a time, and a message costs tens of microseconds), with at most STREAM_QUEUE bytes waiting
 * in each worker, of all the files streamed to it: enough to keep it busy while the next bytes
 * arrive (eight messages), and a bound on what a slow worker makes the process hold. A bound per
 * file instead (2 MiB each) let dozens of files streamed at once queue 2 MiB each in a worker
 * that chunks them one message at a time.
 */
export const STREAM_MESSAGE = 512 * 1024
export const STREAM_QUEUE = 4 * 1024 * 1024

/** The size of a stream message for `remaining` expected bytes: at least 64 KiB (a file may grow). */
export const messageSize = (remaining: number) => Math.min(STREAM_MESSAGE, Math.max(64 * 1024, remaining))

const SCRIPT = new URL('./chunk-worker.js', import.meta.url)

function releaseQueued(job: Job): void {
  for (const release of job.queued.splice(0)) release()
}

/** Thrown inside chunkStream when its job ended on the worker's side before the stream did. */
const STOPPED = Symbol('stopped')


/**
 * Worker threads that chunk, MAC, compress and seal file content, one per core: local files
 * (read by the worker itself) and streamed content of any importer (S3, SFTP, third-party: the
 * main thread reads the stream and hands the bytes over). The main thread keeps the dedup
 * decisions that need this run's pending blobs and the packing.
 */
export class ChunkPool {
  readonly #slots: Slot[] = []
  readonly #jobs = new Map<number, Job>()
  #next = 0
  #failure: Error | undefined

  private constructor(repo: Repository, workers: number, script: URL) {
    const data: ChunkWorkerData = {
      subkeys: repo.keys.subkeys(),
      chunking: repo.config.chunking,
      compression: repo.config.compression,
      cachePath: repo.cache.path,
      creditBytes: CREDIT,
    }
    for (let i = 0; i < workers; i++) {
      // A small young generation: a chunk worker's short-lived objects are messages and
      // buffers it hands over at once; the default let each worker's heap reach 40 MB.
      const worker = new Worker(script, {workerData: data, resourceLimits: {maxYoungGenerationSizeMb: 8}})
      const slot: Slot = {worker, index: i, posted: 0, files: [], ack: 0, flushing: false, streamed: new Budget(STREAM_QUEUE)}
      worker.on('message', (batch: Batch) => this.#onBatch(slot, batch))
      worker.on('error', (error) => this.#fail(new PlakarError(`a chunking worker failed: ${error?.message ?? String(error)}`, 1, {cause: error})))
      worker.on('exit', (code) => {
        if (code !== 0) this.#fail(new PlakarError(`a chunking worker exited with code ${code}`))
      })
      this.#slots.push(slot)
    }
  }

  /**
   * A pool for this repository, or undefined when the compiled worker script is absent (code run
   * from TypeScript sources by a test runner): callers then chunk on the main thread.
   */
  static create(repo: Repository, workers = availableParallelism()): ChunkPool | undefined {
    if (!ChunkPool.available()) return undefined
    return new ChunkPool(repo, Math.max(1, workers), SCRIPT)
  }

  static available(): boolean {
    return existsSync(fileURLToPath(SCRIPT))
  }

  /** `size` is the size the scan saw: small files are read ahead. */
  chunkFile(path: string, size: number, sink: ChunkSink, sniff?: Sniff): Promise<ChunkedFile> {
    if (this.#failure) return Promise.reject(this.#failure)
    const load = (s: Slot) => s.posted + s.files.length
    const slot = this.#slots.reduce((a, b) => (load(b) < load(a) ? b : a))
    const id = this.#next++
    return new Promise<ChunkedFile>((resolve, reject) => {
      this.#jobs.set(id, {refs: [], chain: undefined, sink, resolve, reject, worker: slot, queued: []})
      slot.files.push(sniff ? {job: id, path, size, sniff} : {job: id, path, size})
      this.#schedule(slot)
    })
  }

  /**
   * Chunks content read from a stream (an importer's `open()`): this thread reads, a worker does
   * the rest. Reading waits while the worker holds STREAM_QUEUE unchunked bytes (of any file),
   * so a slow worker slows the sources down instead of filling memory. A source error rejects
   * with that error; `signal` stops reading. With `sniff`, the first bytes name the content type
   * here, on their way through. `expectedSize` (the size the scan saw) sizes the messages: a
   * small file's bytes wait in a buffer of their size, not of STREAM_MESSAGE — with hundreds of
   * small files streamed at once, those buffers were most of what the process held.
   */
  async chunkStream(source: AsyncIterable<Uint8Array>, sink: ChunkSink, signal?: AbortSignal, sniff?: Sniff, expectedSize?: number): Promise<ChunkedFile> {
    if (this.#failure) throw this.#failure
    const load = (s: Slot) => s.posted + s.files.length
    const slot = this.#slots.reduce((a, b) => (load(b) < load(a) ? b : a))
    const id = this.#next++
    let job!: Job
    const result = new Promise<ChunkedFile>((resolve, reject) => {
      job = {refs: [], chain: undefined, sink, resolve, reject, worker: slot, queued: []}
      this.#jobs.set(id, job)
    })
    result.catch(() => {}) // awaited below, or superseded by the source's error
    slot.posted++
    // Allocated when bytes come, as large as the bytes still expected (within bounds).
    let buffer: Buffer | undefined
    let fill = 0
    let posted = 0
    const head = sniff ? new FirstBytes() : undefined
    const send = async (end: boolean) => {
      const release = fill > 0 ? await slot.streamed.acquire(fill) : undefined
      if (!this.#jobs.has(id)) {
        release?.()
        throw STOPPED // the worker failed or gave up on it: `result` says why
      }
      if (release) job.queued.push(release)
      const data = buffer ? buffer.subarray(0, fill) : new Uint8Array(0)
      posted += fill
      // The whole buffer moves to the worker, no copy; the next bytes get a fresh one.
      slot.worker.postMessage({type: 'stream', job: id, data, end} satisfies ToWorker, buffer ? [buffer.buffer as ArrayBuffer] : [])
      buffer = undefined
      fill = 0
    }
    try {
      for await (const piece of source) {
        signal?.throwIfAborted()
        head?.add(piece)
        let offset = 0
        while (offset < piece.length) {
          // A full buffer leaves once more bytes come: the last one goes with `end`.
          if (buffer && fill === buffer.length) await send(false)
          buffer ??= Buffer.allocUnsafe(messageSize((expectedSize ?? Infinity) - posted))
          const n = Math.min(piece.length - offset, buffer.length - fill)
          buffer.set(piece.subarray(offset, offset + n), fill)
          fill += n
          offset += n
        }
      }
      signal?.throwIfAborted()
      await send(true)
    } catch (error) {
      if (error === STOPPED) {
        // Bytes posted after the worker gave up would start a new stream there: drop it.
        slot.worker.postMessage({type: 'abort', job: id} satisfies ToWorker)
        return result
      }
      if (this.#jobs.delete(id)) {
        releaseQueued(job)
        slot.worker.postMessage({type: 'abort', job: id} satisfies ToWorker)
        if (--slot.posted < LOW_WATER && slot.files.length > 0) this.#schedule(slot)
      }
      // What was already handed to the sink stays handed: wait for it before reporting.
      await job.chain
      throw error
    }
    if (!head) return result
    const [file, contentType] = await Promise.all([result, sniffType(sniff!.name, sniff!.guess, head.bytes())])
    return {...file, contentType}
  }

  #onBatch(slot: Slot, batch: Batch): void {
    const {messages, places, chunks} = batch
    let next = 0
    for (let i = 0; i < messages.length; i++) {
      if (chunks) next = this.#onChunks(slot, chunks, next, places[i])
      this.#onMessage(slot, messages[i])
    }
    if (chunks) this.#onChunks(slot, chunks, next, chunks.rows.length / CHUNK_ROW)
    // Credit only matters once a worker nears its limit: acknowledge in large steps.
    if (slot.ack >= ACK_STEP) this.#schedule(slot)
  }

  /** Chunks `from` to `to` of a batch, in order; returns `to`. */
  #onChunks(slot: Slot, chunks: ChunkRows, from: number, to: number): number {
    const rows = chunks.rows
    for (let i = from; i < to; i++) {
      const at = i * CHUNK_ROW
      const job = this.#jobs.get(rows[at])
      const sealedLength = rows[at + 3]
      if (!job) {
        // Its file ended already (an error): nothing waits for these bytes.
        if (sealedLength >= 0) slot.ack += sealedLength
        continue
      }
      const mac = Buffer.from(chunks.macs, i * MAC_LENGTH, MAC_LENGTH)
      const length = rows[at + 1]
      const sealed = sealedLength >= 0 ? Buffer.from(chunks.sealed, rows[at + 2], sealedLength) : undefined
      job.refs.push([mac, length])
      this.#toSink(slot, job, mac, length, sealed)
    }
    return to
  }

  /** One chunk to its file's sink: at once when nothing of the file waits, else behind it. */
  #toSink(slot: Slot, job: Job, mac: Buffer, length: number, sealed: Buffer | undefined): void {
    let pending: Promise<void> | void = undefined
    if (job.chain === undefined) {
      if (job.failure === undefined) {
        try {
          pending = job.sink(mac, length, sealed, slot.index)
        } catch (error) {
          job.failure = error
        }
      }
      if (pending === undefined) {
        if (sealed) slot.ack += sealed.length
        return
      }
    } else {
      pending = job.chain.then(() => (job.failure === undefined ? job.sink(mac, length, sealed, slot.index) : undefined))
    }
    const settled: Promise<void> = pending.then(
      () => {},
      (error) => {
        job.failure ??= error
      },
    ).then(() => {
      if (job.chain === settled) job.chain = undefined
      if (!sealed) return
      slot.ack += sealed.length
      if (slot.ack >= ACK_STEP) this.#schedule(slot)
    })
    job.chain = settled
  }

  #onMessage(slot: Slot, message: FromWorker): void {
    const job = this.#jobs.get(message.job)
    if (!job) return
    if (message.type === 'consumed') {
      job.queued.shift()?.()
      return
    }
    this.#jobs.delete(message.job)
    // Ended on the worker's side: whatever it still queues of this file, it drops.
    releaseQueued(job)
    if (--slot.posted < LOW_WATER && slot.files.length > 0) this.#schedule(slot)
    const finish = () => {
      if (job.failure !== undefined) return job.reject(job.failure as Error)
      if (message.type !== 'done') return job.reject(Object.assign(new Error(message.message), {code: message.code}))
      if (!message.sample) return job.resolve({refs: job.refs, size: message.size, contentType: message.contentType})
      signatureType({sample: message.sample, otherwise: message.otherwise}).then(
        (contentType) => job.resolve({refs: job.refs, size: message.size, contentType}),
        (error: Error) => job.reject(error),
      )
    }
    if (job.chain) void job.chain.then(finish)
    else finish()
  }

  #schedule(slot: Slot): void {
    if (slot.flushing) return
    slot.flushing = true
    setImmediate(() => {
      slot.flushing = false
      // Files wait here while the worker has plenty queued: fewer, larger messages.
      if (slot.files.length > 0 && slot.posted < LOW_WATER) {
        const files = slot.files.splice(0, BATCH_FILES)
        slot.posted += files.length
        slot.worker.postMessage({type: 'files', files} satisfies ToWorker)
      }
      if (slot.ack > 0) {
        slot.worker.postMessage({type: 'ack', bytes: slot.ack} satisfies ToWorker)
        slot.ack = 0
      }
    })
  }

  /**
   * A dead worker takes its queued files with it, and every later file would fail the same way:
   * the error is `fatal`, so the backup stops instead of recording each file as unreadable.
   */
  #fail(error: Error): void {
    markFatal(error)
    this.#failure ??= error
    const jobs = [...this.#jobs.values()]
    this.#jobs.clear()
    for (const job of jobs) {
      job.reject(error)
      releaseQueued(job)
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.worker.terminate()))
  }
}

import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {PlakarError, type ExportFile} from '@plakar/sdk'
import {FIELDS, type FromWriteWorker, type ToWriteWorker, type WriteAnswer, type WriteBatch} from './write-protocol.js'

const WRITE_WORKER = new URL('./write-worker.js', import.meta.url)

interface Waiting {
  resolve: (answer: WriteAnswer) => void
  reject: (error: Error) => void
}

/**
 * The exporter's side of its writing thread (write-worker.ts): each batch of files is copied
 * once into one buffer, moved to the thread with one message, and answered with one message
 * (the buffer moved back). Started with the exporter, so that its boot overlaps the repository's
 * opening; it keeps the process alive only while a batch is out.
 *
 * The buffers are a pool of two, reused from batch to batch: one being written, one filled and
 * waiting; a third batch waits for one to come back. A fresh buffer for every batch cost more
 * than the copy itself (its pages are zeroed and faulted in anew: in a loop, 60 batches of the
 * source tree's 285 MiB took 0.75-2.5 s into fresh buffers against 0.1-0.2 s into one reused),
 * and the pool bounds what the batches hold.
 */
export class WriteThread {
  readonly #worker: Worker
  readonly #waiting = new Map<number, Waiting>()
  #next = 0
  /** Pool buffers not on the thread now. */
  readonly #free: ArrayBuffer[] = []
  /** Pool buffers made so far (at most POOL). */
  #made = 0
  /** Batches waiting for a pool buffer. */
  #needing: (() => void)[] = []
  #broken?: Error
  readonly #exited: Promise<void>

  /** Undefined where the thread's script is missing (code run from the TypeScript sources). */
  static start(root: string, rootFd: number, asRoot: boolean): WriteThread | undefined {
    if (!existsSync(fileURLToPath(WRITE_WORKER))) return undefined
    return new WriteThread(root, rootFd, asRoot)
  }

  private constructor(root: string, rootFd: number, asRoot: boolean) {
    const viaProc = `/proc/self/fd/${rootFd}`
    // The thread holds no data of its own beyond the batch at hand: a small young generation.
    this.#worker = new Worker(WRITE_WORKER, {
      workerData: {root, open: existsSync(viaProc) ? viaProc : root, asRoot},
      resourceLimits: {maxYoungGenerationSizeMb: 4},
    })
    this.#worker.on('message', (message: FromWriteWorker) => {
      if (message.type === 'failed') return this.#fail(new PlakarError(`cannot restore into ${root}: ${message.message}`))
      const {answer} = message
      this.#release(answer.data)
      const waiting = this.#waiting.get(answer.id)
      this.#waiting.delete(answer.id)
      if (this.#waiting.size === 0) this.#worker.unref()
      waiting?.resolve(answer)
    })
    this.#worker.on('error', (error) => this.#fail(new PlakarError(`the restore's writing thread failed: ${error.message}`)))
    this.#exited = new Promise((resolve) =>
      this.#worker.once('exit', () => {
        this.#fail(new PlakarError(`the restore's writing thread ended`))
        resolve()
      }),
    )
    this.#worker.unref()
  }

  /** Writes `files` on the thread; `stop` (shared) is set to 1 to make it stop before its next file. */
  async write(files: readonly ExportFile[], stop: Int32Array): Promise<WriteAnswer> {
    while (!this.#broken && this.#free.length === 0 && this.#made >= POOL) await new Promise<void>((resolve) => this.#needing.push(resolve))
    if (this.#broken) throw this.#broken
    if (Atomics.load(stop, 0) !== 0) return {id: -1, outcomes: [], end: 'aborted', data: new ArrayBuffer(0)}
    const batch = this.#pack(files, stop)
    return new Promise<WriteAnswer>((resolve, reject) => {
      this.#waiting.set(batch.id, {resolve, reject})
      this.#worker.ref()
      this.#worker.postMessage({type: 'batch', batch} satisfies ToWriteWorker, [batch.data])
    })
  }

  #pack(files: readonly ExportFile[], stop: Int32Array): WriteBatch {
    const n = files.length
    const ends = new Uint32Array(n)
    const numbers = new Float64Array(n * FIELDS)
    const paths: string[] = new Array(n)
    let total = 0
    for (let i = 0; i < n; i++) {
      const {path, parts, info} = files[i]
      paths[i] = path
      for (const part of parts) total += part.length
      ends[i] = total
      const at = i * FIELDS
      numbers[at] = info.mode ?? NaN
      numbers[at + 1] = info.uid ?? NaN
      numbers[at + 2] = info.gid ?? NaN
      numbers[at + 3] = info.mtime ?? NaN
      numbers[at + 4] = info.atime ?? NaN
    }
    const data = this.#buffer(total)
    const bytes = new Uint8Array(data)
    let offset = 0
    for (const {parts} of files) {
      for (const part of parts) {
        bytes.set(part, offset)
        offset += part.length
      }
    }
    return {id: this.#next++, paths, numbers, ends, data, stop}
  }

  /** A free pool buffer of at least `size` bytes (one too small is replaced by a larger one), else a new one. */
  #buffer(size: number): ArrayBuffer {
    const free = this.#free.pop()
    if (free && free.byteLength >= size) return free
    if (!free) this.#made++
    return new ArrayBuffer(Math.ceil((size + 1) / GROWTH) * GROWTH)
  }

  #release(data: ArrayBuffer): void {
    this.#free.push(data)
    this.#needing.shift()?.()
  }

  #fail(error: Error): void {
    this.#broken ??= error
    for (const waiting of this.#waiting.values()) waiting.reject(this.#broken)
    this.#waiting.clear()
    for (const wake of this.#needing.splice(0)) wake()
  }

  /** Stops the thread once the batches already sent are written (or stopped by their signal). */
  async close(): Promise<void> {
    if (!this.#broken) this.#worker.postMessage({type: 'close'} satisfies ToWriteWorker)
    this.#worker.ref()
    await this.#exited
  }
}

/** Buffers of the pool: one on the thread, one filled and waiting for it. */
const POOL = 2
/** Pool buffers are made in steps of this size, so that one fits the next batches too. */
const GROWTH = 4 * 1024 * 1024

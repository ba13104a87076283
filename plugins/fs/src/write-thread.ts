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
 * A batch crosses in pieces of at most 4 MiB, each in a buffer of a pool of three reused from
 * piece to piece: one being written, the next ones filled and waiting; a fourth waits for one to
 * come back. A fresh buffer for every batch cost more than the copy itself (its pages are zeroed
 * and faulted in anew: in a loop, 60 batches of the source tree's 285 MiB took 0.75-2.5 s into
 * fresh buffers against 0.1-0.2 s into one reused), and the pool bounds what the batches hold
 * (12 MiB: two buffers of a whole 16 MiB batch held 30-40 MB more at the restore's peak).
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

  /**
   * Writes `files` on the thread, in pieces of at most PIECE bytes (a larger file alone in its
   * own); `stop` (shared) is set to 1 to make the thread stop before its next file. The outcomes
   * are in the files' order, and end with the piece that ended early, if one did.
   */
  async write(files: readonly ExportFile[], stop: Int32Array): Promise<Pick<WriteAnswer, 'outcomes' | 'end'>> {
    const sent: Promise<WriteAnswer>[] = []
    let aborted = false
    for (let start = 0; start < files.length; ) {
      let end = start
      let size = 0
      while (end < files.length) {
        const more = sizeOf(files[end])
        if (end > start && size + more > PIECE) break
        size += more
        end++
      }
      if (size <= PIECE) await this.#pooled()
      if (this.#broken) throw this.#broken
      if (Atomics.load(stop, 0) !== 0) {
        aborted = true
        break
      }
      sent.push(this.#send(files, start, end, size, stop))
      start = end
    }
    const outcomes: WriteAnswer['outcomes'] = []
    for (const answer of await Promise.all(sent)) {
      outcomes.push(...answer.outcomes)
      if (answer.end) return {outcomes, end: answer.end}
    }
    return aborted ? {outcomes, end: 'aborted'} : {outcomes}
  }

  /** Waits for a free pool buffer (or for the thread to fail). */
  async #pooled(): Promise<void> {
    while (!this.#broken && this.#free.length === 0 && this.#made >= POOL) await new Promise<void>((resolve) => this.#needing.push(resolve))
  }

  #send(files: readonly ExportFile[], start: number, end: number, size: number, stop: Int32Array): Promise<WriteAnswer> {
    const n = end - start
    const ends = new Uint32Array(n)
    const numbers = new Float64Array(n * FIELDS)
    const paths: string[] = new Array(n)
    const data = this.#buffer(size)
    const bytes = new Uint8Array(data)
    let offset = 0
    for (let i = 0; i < n; i++) {
      const {path, parts, info} = files[start + i]
      paths[i] = path
      for (const part of parts) {
        bytes.set(part, offset)
        offset += part.length
      }
      ends[i] = offset
      const at = i * FIELDS
      numbers[at] = info.mode ?? NaN
      numbers[at + 1] = info.uid ?? NaN
      numbers[at + 2] = info.gid ?? NaN
      numbers[at + 3] = info.mtime ?? NaN
      numbers[at + 4] = info.atime ?? NaN
    }
    const batch: WriteBatch = {id: this.#next++, paths, numbers, ends, data, stop}
    return new Promise<WriteAnswer>((resolve, reject) => {
      this.#waiting.set(batch.id, {resolve, reject})
      this.#worker.ref()
      this.#worker.postMessage({type: 'batch', batch} satisfies ToWriteWorker, [batch.data])
    })
  }

  /** A free pool buffer for a piece that fits one, else one of its own for a larger file. */
  #buffer(size: number): ArrayBuffer {
    if (size > PIECE) return new ArrayBuffer(size)
    const free = this.#free.pop()
    if (free) return free
    this.#made++
    return new ArrayBuffer(PIECE)
  }

  #release(data: ArrayBuffer): void {
    if (data.byteLength !== PIECE) return
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

/** Bytes of a piece of a batch, and of each buffer of the pool. */
const PIECE = 4 * 1024 * 1024
/** Buffers of the pool: one on the thread, the next ones filled and waiting for it. */
const POOL = 3

function sizeOf(file: ExportFile): number {
  let size = 0
  for (const part of file.parts) size += part.length
  return size
}

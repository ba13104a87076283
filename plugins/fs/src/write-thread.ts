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
 * (the buffer moved back and reused for a later batch). Started with the exporter, so that its
 * boot overlaps the repository's opening; it keeps the process alive only while a batch is out.
 */
export class WriteThread {
  readonly #worker: Worker
  readonly #waiting = new Map<number, Waiting>()
  #next = 0
  /** Buffers moved back from the thread, largest first, for the next batches. */
  #spare: ArrayBuffer[] = []
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
      this.#keep(answer.data)
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
  write(files: readonly ExportFile[], stop: Int32Array): Promise<WriteAnswer> {
    if (this.#broken) return Promise.reject(this.#broken)
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

  /** A spare buffer that holds `size` bytes, else a new one (a whole MiB more, so that it fits later batches too). */
  #buffer(size: number): ArrayBuffer {
    const i = this.#spare.findLastIndex((b) => b.byteLength >= size)
    if (i >= 0) return this.#spare.splice(i, 1)[0]
    return new ArrayBuffer(Math.ceil((size + 1) / MiB) * MiB)
  }

  #keep(data: ArrayBuffer): void {
    if (data.byteLength === 0) return
    this.#spare.push(data)
    this.#spare.sort((a, b) => b.byteLength - a.byteLength)
    // Two in flight at most at once on this side: more spares would only hold memory.
    if (this.#spare.length > SPARES) this.#spare.length = SPARES
  }

  #fail(error: Error): void {
    this.#broken ??= error
    for (const waiting of this.#waiting.values()) waiting.reject(this.#broken)
    this.#waiting.clear()
  }

  /** Stops the thread once the batches already sent are written (or stopped by their signal). */
  async close(): Promise<void> {
    if (!this.#broken) this.#worker.postMessage({type: 'close'} satisfies ToWriteWorker)
    this.#worker.ref()
    await this.#exited
  }
}

const MiB = 1024 * 1024
const SPARES = 2

import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {openBlob} from '../format/blob.js'
import {PlakarError} from '../errors.js'
import type {Repository} from '../repository/repository.js'

export interface DecodeBlob {
  type: number
  mac: Uint8Array
  /** Offset and length within the data handed over. */
  offset: number
  length: number
}

export interface DecodeRequest {
  id: number
  data: Uint8Array
  blobs: DecodeBlob[]
  verifyOnly: boolean
}

export interface DecodeReply {
  id: number
  /** In the order of the request's blobs; null where it failed or verifyOnly was asked. */
  plaintexts: (Uint8Array | null)[]
  errors: {index: number; message: string}[]
}

export interface Decoded {
  plaintexts: (Buffer | null)[]
  /** Why each failed blob failed, by index. */
  errors: Map<number, string>
}

/**
 * Opens blobs on worker threads (one per core), in the order requests come. Without the
 * compiled worker script (code run from TypeScript sources by a test runner), it opens them on
 * this thread. The data buffer is moved to the worker: callers must not use it afterwards.
 */
export class DecodePool {
  readonly #repo: Repository
  readonly #workers: {worker: Worker; busy: number}[] = []
  readonly #pending = new Map<number, {resolve: (d: DecodeReply) => void; reject: (e: Error) => void}>()
  #next = 0

  constructor(repo: Repository, workers = availableParallelism()) {
    this.#repo = repo
    const script = new URL('./decode-worker.js', import.meta.url)
    if (!existsSync(fileURLToPath(script))) return
    for (let i = 0; i < Math.max(1, workers); i++) {
      const worker = new Worker(script, {
        workerData: {subkeys: repo.keys.subkeys(), compression: repo.config.compression},
        // A small young generation is collected often, and with it the large external buffers
        // (packfiles, plaintexts) its short-lived objects hold: check peaked 50-60 MB lower.
        resourceLimits: {maxYoungGenerationSizeMb: 4},
      })
      const slot = {worker, busy: 0}
      worker.on('message', (reply: DecodeReply) => {
        slot.busy--
        const pending = this.#pending.get(reply.id)
        this.#pending.delete(reply.id)
        pending?.resolve(reply)
        if (this.#pending.size === 0) for (const w of this.#workers) w.worker.unref()
      })
      // A dead worker gets no more requests (they would never be answered): the others, or
      // this thread when none is left, take them.
      const dead = (error: Error) => {
        const at = this.#workers.indexOf(slot)
        if (at >= 0) this.#workers.splice(at, 1)
        this.#failAll(error)
      }
      worker.on('error', (error) => dead(new PlakarError(`a decoding worker failed: ${error?.message ?? String(error)}`, 1, {cause: error})))
      worker.on('exit', (code) => dead(new PlakarError(`a decoding worker exited with code ${code}`)))
      worker.unref()
      this.#workers.push(slot)
    }
  }

  async decode(data: Buffer, blobs: DecodeBlob[], verifyOnly = false): Promise<Decoded> {
    if (this.#workers.length === 0 || blobs.length === 0) return this.#inline(data, blobs, verifyOnly)
    const slot = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a))
    const id = this.#next++
    // Move the bytes when the buffer owns its memory; copy them otherwise.
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Buffer.from(data)
    const reply = await new Promise<DecodeReply>((resolve, reject) => {
      this.#pending.set(id, {resolve, reject})
      slot.busy++
      slot.worker.ref()
      slot.worker.postMessage({id, data: owned, blobs, verifyOnly} satisfies DecodeRequest, [owned.buffer as ArrayBuffer])
    })
    return {
      plaintexts: reply.plaintexts.map((p) => (p ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : null)),
      errors: new Map(reply.errors.map((e) => [e.index, e.message])),
    }
  }

  #inline(data: Buffer, blobs: DecodeBlob[], verifyOnly: boolean): Decoded {
    const errors = new Map<number, string>()
    const plaintexts = blobs.map((blob, index) => {
      try {
        if (blob.offset + blob.length > data.length) throw new Error('the range is shorter than the blob')
        const plain = openBlob(this.#repo.keys, this.#repo.compressor, blob.type, Buffer.from(blob.mac), data.subarray(blob.offset, blob.offset + blob.length), verifyOnly)
        return verifyOnly ? null : plain
      } catch (error) {
        errors.set(index, (error as Error).message)
        return null
      }
    })
    return {plaintexts, errors}
  }

  #failAll(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error)
    this.#pending.clear()
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.splice(0).map((w) => w.worker.terminate()))
  }
}

const pools = new WeakMap<Repository, DecodePool>()

/** The repository's decoding pool, started on first use and stopped when the repository closes. */
export function decoderFor(repo: Repository): DecodePool {
  let pool = pools.get(repo)
  if (!pool) {
    const created = new DecodePool(repo)
    pools.set(repo, created)
    repo.onClose(() => created.close())
    pool = created
  }
  return pool
}

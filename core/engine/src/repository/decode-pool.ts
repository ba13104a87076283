import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {MAC_LENGTH} from '../crypto/mac.js'
import {openBlob} from '../format/blob.js'
import {ownedCopy} from '../format/owned-copy.js'
import {PlakarError} from '@plakar/sdk'
import type {RangeBuffers} from './range-buffers.js'
import type {Repository} from './repository.js'

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
  /**
   * The blobs' MACs, MAC_LENGTH bytes each in the order of `blobs`, in one buffer of its own
   * (moved): a MAC of its own per blob is a slice of Node's 8 KiB pool, which a structured
   * clone copies whole.
   */
  macs: Uint8Array
  blobs: Omit<DecodeBlob, 'mac'>[]
  verifyOnly: boolean
}

export interface DecodeReply {
  id: number
  /** In the order of the request's blobs; null where it failed or verifyOnly was asked. */
  plaintexts: (Uint8Array | null)[]
  errors: {index: number; message: string}[]
  /** The request's bytes, moved back unless shared or a plaintext's own memory. */
  returned?: Uint8Array
}

export interface Decoded {
  plaintexts: (Buffer | null)[]
  /** Why each failed blob failed, by index. */
  errors: Map<number, string>
}

/**
 * With decodeHere, how many requests every worker must still have to answer before this thread
 * opens one itself. Ranges come in bursts (several reads finishing together): at 1, this thread
 * opened most of them while the worker idled 78 % of a restore from radosgw, where this
 * thread (downloads, file writes) is what the restore waits for.
 */
export const DECODE_HERE_AFTER = 2

/**
 * Where a request is opened: `auto` on a worker, or on this thread as decodeHere says; `worker`
 * on a worker whenever one runs (the caller keeps its own share for this thread); `here` on
 * this thread.
 */
export type DecodePlace = 'auto' | 'worker' | 'here'

/** What a decoding worker posts: one message once it can take requests, then replies. */
export type FromDecodeWorker = {type: 'ready'} | ({type: 'reply'} & DecodeReply)

/** A request posted and not answered yet. */
interface Pending {
  slot: DecodeSlot
  resolve: (d: DecodeReply) => void
  reject: (e: Error) => void
  /** Its bytes are a range buffer (RangeBuffers), handed back to the pool with the reply. */
  recycled: boolean
}

interface DecodeSlot {
  worker: Worker
  /** Requests posted and not yet answered here (their replies may wait in this thread's queue). */
  busy: number
  /** Requests posted to it, and (shared, counted by the worker) those it has answered. */
  posted: number
  answered: Int32Array
  /** Set by the worker's first message: until then it gets no request. */
  ready: boolean
}

/**
 * What a worker still has to do. Not `busy`: its replies wait in this thread's queue while this
 * thread is busy, and a worker that finished long ago would look busy exactly when this thread
 * has the least time to decode.
 */
function unanswered(slot: DecodeSlot): number {
  return slot.posted - Atomics.load(slot.answered, 0)
}

/**
 * Opens blobs on worker threads, in the order requests come. Without the compiled worker script
 * (code run from TypeScript sources by a test runner), it opens them on this thread. The data
 * buffer is moved to the worker: callers must not use it afterwards.
 *
 * With `decodeHere`, a request that finds every worker holding DECODE_HERE_AFTER requests is
 * opened on this thread instead of waiting: one worker fewer than cores keeps every core busy in restore and check (this thread
 * mostly waits on reads there), and each isolate costs memory its buffers keep (on 2 cores, one
 * worker and this thread: restore 347 -> 299 MiB, check 388 -> 327 MiB, the same CPU time).
 *
 * A request goes only to a worker that said it is ready: a worker that fails as it starts (a
 * module that cannot load, keys it cannot use) would otherwise take the requests already posted
 * to it down with it, and whether it had failed yet would depend on how busy the machine is.
 */
export class DecodePool {
  readonly #repo: Repository
  readonly #workers: DecodeSlot[] = []
  readonly #pending = new Map<number, Pending>()
  /** Callers waiting for a worker to become ready (or for every worker to be gone). */
  #waiting: (() => void)[] = []
  #next = 0
  readonly #decodeHere: boolean
  readonly #decodeHereAfter: number
  /** Requests opened on this thread (with workers running): what the placement tests observe. */
  openedHere = 0
  /**
   * Where the requests' bytes go once their blobs are opened, when they came from there: a
   * buffer of these moves to a worker whole (a view of its range) and is read into again.
   */
  readonly #buffers: RangeBuffers | undefined

  constructor(
    repo: Repository,
    workers = availableParallelism(),
    decodeHere = false,
    decodeHereAfter = DECODE_HERE_AFTER,
    buffers?: RangeBuffers,
  ) {
    this.#repo = repo
    this.#buffers = buffers
    this.#decodeHere = decodeHere
    this.#decodeHereAfter = decodeHereAfter
    const script = new URL('./decode-worker.js', import.meta.url)
    if (!existsSync(fileURLToPath(script))) return
    for (let i = 0; i < Math.max(1, workers); i++) {
      const answered = new Int32Array(new SharedArrayBuffer(4))
      const worker = new Worker(script, {
        workerData: {subkeys: repo.keys.subkeys(), compression: repo.config.compression, answered: answered.buffer},
        // A small young generation is collected often, and with it the large external buffers
        // (packfiles, plaintexts) its short-lived objects hold: check peaked 50-60 MB lower.
        resourceLimits: {maxYoungGenerationSizeMb: 4},
      })
      const slot: DecodeSlot = {worker, busy: 0, posted: 0, answered, ready: false}
      worker.on('message', (message: FromDecodeWorker) => {
        if (message.type === 'ready') {
          slot.ready = true
          this.#wake()
          return
        }
        slot.busy--
        const pending = this.#pending.get(message.id)
        this.#pending.delete(message.id)
        if (pending?.recycled && message.returned) this.#buffers?.giveBack(message.returned.buffer)
        pending?.resolve(message)
        if (this.#pending.size === 0) for (const w of this.#workers) w.worker.unref()
      })
      // A dead worker gets no more requests (they would never be answered): the others, or
      // this thread when none is left, take them. Requests it held fail: their data moved to it.
      const dead = (error: Error) => {
        const at = this.#workers.indexOf(slot)
        if (at >= 0) this.#workers.splice(at, 1)
        for (const [id, p] of this.#pending) {
          if (p.slot !== slot) continue
          this.#pending.delete(id)
          p.reject(error)
        }
        this.#wake()
      }
      worker.on('error', (error) => dead(new PlakarError(`a decoding worker failed: ${error?.message ?? String(error)}`, 1, {cause: error})))
      worker.on('exit', (code) => dead(new PlakarError(`a decoding worker exited with code ${code}`)))
      worker.unref()
      this.#workers.push(slot)
    }
  }

  async decode(data: Buffer, blobs: DecodeBlob[], verifyOnly = false): Promise<Decoded> {
    const macs = Buffer.allocUnsafeSlow(blobs.length * MAC_LENGTH)
    blobs.forEach((b, i) => macs.set(b.mac, i * MAC_LENGTH))
    return this.decodePlaced(data, macs, blobs.map(({type, offset, length}) => ({type, offset, length})), verifyOnly)
  }

  /**
   * Like decode, with the blobs' MACs already in one buffer of their own (MAC_LENGTH bytes each,
   * in the order of `blobs`; moved with the data): check builds it from the index's rows without
   * a buffer per MAC, which cost a third of its reading of the index on 300,000 small files.
   */
  async decodePlaced(data: Buffer, macs: Buffer, blobs: Omit<DecodeBlob, 'mac'>[], verifyOnly = false, place: DecodePlace = 'auto'): Promise<Decoded> {
    if (blobs.length === 0 || place === 'here') return this.#inlineThenRecycle(data, macs, blobs, verifyOnly)
    let ready = this.#workers.filter((w) => w.ready)
    while (ready.length === 0 && this.#workers.length > 0) {
      // Workers are starting: wait for one (keeping them referenced, so the process waits too).
      for (const w of this.#workers) w.worker.ref()
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
      ready = this.#workers.filter((w) => w.ready)
    }
    if (ready.length === 0) return this.#inlineThenRecycle(data, macs, blobs, verifyOnly)
    const slot = ready.reduce((a, b) => (unanswered(b) < unanswered(a) ? b : a))
    if (place === 'auto' && this.#decodeHere && unanswered(slot) >= this.#decodeHereAfter) {
      this.openedHere++
      return this.#inlineThenRecycle(data, macs, blobs, verifyOnly)
    }
    const id = this.#next++
    // Bytes in shared memory are shared, not moved (check hands both threads parts of one
    // packfile); others are moved when the buffer owns its memory or is a range buffer (moved
    // whole, as a view of its range), copied otherwise.
    const shared = data.buffer instanceof SharedArrayBuffer
    const recycled = !shared && this.#buffers?.owns(data.buffer) === true
    const owned = shared || recycled || (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) ? data : ownedCopy(data)
    const reply = await new Promise<DecodeReply>((resolve, reject) => {
      this.#pending.set(id, {slot, resolve, reject, recycled})
      slot.busy++
      slot.posted++
      slot.worker.ref()
      const ownedMacs = macs.byteOffset === 0 && macs.byteLength === macs.buffer.byteLength ? macs : ownedCopy(macs)
      const transfer = shared ? [ownedMacs.buffer as ArrayBuffer] : [owned.buffer as ArrayBuffer, ownedMacs.buffer as ArrayBuffer]
      slot.worker.postMessage({id, data: owned, macs: ownedMacs, blobs, verifyOnly} satisfies DecodeRequest, transfer)
    })
    return {
      plaintexts: reply.plaintexts.map((p) => (p ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : null)),
      errors: new Map(reply.errors.map((e) => [e.index, e.message])),
    }
  }

  /** Workers ready for requests: none while they start, and none when they cannot run. */
  get workers(): number {
    return this.#workers.filter((w) => w.ready).length
  }

  /** Requests the workers have not answered yet (whether or not their replies reached this thread). */
  get unanswered(): number {
    return this.#workers.reduce((n, w) => n + unanswered(w), 0)
  }

  #wake(): void {
    if (this.#pending.size === 0) for (const w of this.#workers) w.worker.unref()
    for (const resolve of this.#waiting.splice(0)) resolve()
  }

  /**
   * #inline, then the bytes go back to the range buffers when they came from there and no
   * plaintext is a view of them (an unencrypted, uncompressed blob is): callers hand their bytes
   * over with the request whichever thread opens it.
   */
  #inlineThenRecycle(data: Buffer, macs: Buffer, blobs: Omit<DecodeBlob, 'mac'>[], verifyOnly: boolean): Decoded {
    const decoded = this.#inline(data, macs, blobs, verifyOnly)
    if (this.#buffers?.owns(data.buffer) && decoded.plaintexts.every((p) => p === null || p.buffer !== data.buffer)) this.#buffers.give(data.buffer)
    return decoded
  }

  #inline(data: Buffer, macs: Buffer, blobs: Omit<DecodeBlob, 'mac'>[], verifyOnly: boolean): Decoded {
    const errors = new Map<number, string>()
    const plaintexts = blobs.map((blob, index) => {
      try {
        if (blob.offset + blob.length > data.length) throw new Error('the range is shorter than the blob')
        const mac = macs.subarray(index * MAC_LENGTH, (index + 1) * MAC_LENGTH)
        const plain = openBlob(this.#repo.keys, this.#repo.compressor, blob.type, mac, data.subarray(blob.offset, blob.offset + blob.length), verifyOnly)
        return verifyOnly ? null : plain
      } catch (error) {
        errors.set(index, (error as Error).message)
        return null
      }
    })
    return {plaintexts, errors}
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.splice(0).map((w) => w.worker.terminate()))
  }
}

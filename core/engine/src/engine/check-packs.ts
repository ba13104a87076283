import {finished, type Readable} from 'node:stream'
import {MAC_LENGTH} from '../crypto/mac.js'
import type {Repository} from '../repository/repository.js'

/**
 * A packfile's blobs are verified in slices of at most this many sealed bytes and blobs, each
 * on the decoding worker or on this thread: small enough that both threads share the last
 * packfile of a check (whole packfiles went to the worker, which decoded alone for the last
 * 0.6 s of a source-tree check while this thread waited), large enough that a message per
 * slice costs nothing beside opening its blobs.
 */
const SLICE_BYTES = 1024 * 1024
const SLICE_BLOBS = 256
/**
 * Slices each worker is given ahead: it opens the next while its last reply waits for this
 * thread, which may be opening a slice itself.
 */
const WORKER_DEPTH = 3

/**
 * Pool memory comes in multiples of this: packfiles of one repository differ in size by a few
 * hundred KB (16.8 to 17.1 MB in one), and memory sized to the byte fitted none of the next.
 */
const POOL_GRAIN = 2 * 1024 * 1024

/** One index row of a packfile's blob: MAC in hex, type, offset and length (LocalCache.blobListOfPack). */
export type PackRow = [mac: string, type: number, offset: number, length: number]

interface Slice {
  data: Buffer
  macs: Buffer
  blobs: {type: number; offset: number; length: number}[]
  settle: (outcome: PromiseSettledResult<Map<number, string>>) => void
}

/**
 * The data phase of a full check, packfile by packfile: each is read into shared memory from a
 * small pool (reused: no fresh pages to fault in for every packfile, and no buffer moved to the
 * worker and back), and its blobs are opened in slices by the decoding worker and, whenever the
 * worker has enough to do, by this thread between its other work (the walk, the reads).
 */
export class PackVerifier {
  readonly #repo: Repository
  /** Shared memory of packfiles verified, to read the next ones into. */
  readonly #free: SharedArrayBuffer[] = []
  /** Slices waiting for a thread, oldest packfile first. */
  readonly #queue: Slice[] = []
  #helping = false
  /**
   * Whether this thread should open slices now, besides feeding the worker: the check says no
   * while its walk (this thread's other work) is further behind than the data.
   */
  readonly #mayHelp: () => boolean

  constructor(repo: Repository, mayHelp: () => boolean = () => true) {
    this.#repo = repo
    this.#mayHelp = mayHelp
    // Started now, while the states are read: the first packfile does not wait for it.
    repo.reader.startDecoding()
  }

  /**
   * The bytes of a packfile, `size` of them (its listed size: a stream that ends early or
   * goes on fails with ESHORTREAD), in shared memory of the pool: `release` gives it back
   * once nothing reads it any more.
   */
  async read(pack: string, size: number): Promise<{bytes: Buffer; release: () => void}> {
    const memory = this.#take(size)
    const release = () => void this.#free.push(memory)
    try {
      const bytes = Buffer.from(memory, 0, size)
      const storage = this.#repo.storage
      // Straight into the memory when the storage can (a local directory), without a stream.
      if (storage.readInto) await storage.readInto('packfile', pack, bytes)
      else await readInto(await storage.get('packfile', pack), bytes)
      return {bytes, release}
    } catch (error) {
      release()
      throw error
    }
  }

  #take(size: number): SharedArrayBuffer {
    const fits = this.#free.findIndex((m) => m.byteLength >= size)
    if (fits >= 0) return this.#free.splice(fits, 1)[0]
    // None is large enough: one too small is dropped, so the pool holds no more than the
    // packfiles in flight.
    this.#free.pop()
    return new SharedArrayBuffer(Math.max(1, Math.ceil(size / POOL_GRAIN)) * POOL_GRAIN)
  }

  /**
   * Opens every blob of `rows` in `data` (verified, plaintexts dropped); returns why each
   * failed blob failed, by row index. Resolves only when no thread reads `data` any more.
   */
  async verify(data: Buffer, rows: PackRow[]): Promise<Map<number, string>> {
    const errors = new Map<number, string>()
    const slices: Promise<void>[] = []
    for (let start = 0; start < rows.length; ) {
      let end = start
      let bytes = 0
      while (end < rows.length && end - start < SLICE_BLOBS && (end === start || bytes + rows[end][3] <= SLICE_BYTES)) bytes += rows[end++][3]
      const macs = Buffer.allocUnsafeSlow((end - start) * MAC_LENGTH)
      const blobs: Slice['blobs'] = []
      for (let i = start; i < end; i++) {
        const [hex, type, offset, length] = rows[i]
        macs.write(hex, (i - start) * MAC_LENGTH, MAC_LENGTH, 'hex')
        blobs.push({type, offset, length})
      }
      const first = start
      slices.push(
        new Promise<PromiseSettledResult<Map<number, string>>>((settle) => this.#queue.push({data, macs, blobs, settle})).then((outcome) => {
          if (outcome.status === 'rejected') throw outcome.reason
          for (const [i, why] of outcome.value) errors.set(first + i, why)
        }),
      )
      start = end
    }
    this.#pump()
    // Every slice settled before `data` goes back to the pool, even when one failed.
    const outcomes = await Promise.allSettled(slices)
    const failed = outcomes.find((o) => o.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    return errors
  }

  /**
   * Gives the worker slices up to its depth, and this thread one when more are left and it may
   * help (always when no worker runs). The check calls it again when that may have changed.
   */
  pump(): void {
    this.#pump()
  }

  #pump(): void {
    const reader = this.#repo.reader
    let workers = 0
    while (this.#queue.length > 0) {
      const decoding = reader.decoding
      workers = decoding.workers
      if (workers === 0 || decoding.unanswered >= workers * WORKER_DEPTH) break
      const slice = this.#queue.shift()!
      reader.verify(slice.data, slice.macs, slice.blobs, 'worker').then(
        (value) => {
          slice.settle({status: 'fulfilled', value})
          this.#pump()
        },
        (reason: unknown) => {
          slice.settle({status: 'rejected', reason})
          this.#pump()
        },
      )
    }
    if (this.#queue.length > 0 && !this.#helping && (workers === 0 || this.#mayHelp())) {
      this.#helping = true
      // After the I/O and the walk's pending work: this thread takes one slice per turn.
      setImmediate(() => this.#help())
    }
  }

  #help(): void {
    this.#helping = false
    this.#pump()
    if (this.#repo.reader.decoding.workers > 0 && !this.#mayHelp()) return
    const slice = this.#queue.shift()
    if (!slice) return
    this.#repo.reader.verify(slice.data, slice.macs, slice.blobs, 'here').then(
      (value) => slice.settle({status: 'fulfilled', value}),
      (reason: unknown) => slice.settle({status: 'rejected', reason}),
    )
    this.#pump()
  }
}

/** Every byte of `stream` into `into`, exactly its length of them, or an ESHORTREAD error. */
function readInto(stream: Readable, into: Buffer): Promise<void> {
  let size = 0
  return new Promise<void>((resolve, reject) => {
    stream.on('data', (part: Buffer | string) => {
      const buf = typeof part === 'string' ? Buffer.from(part) : part
      if (size + buf.length <= into.length) into.set(buf, size)
      size += buf.length
    })
    finished(stream, (error) => {
      if (error) return reject(error)
      if (size !== into.length) return reject(Object.assign(new Error(`short read: expected ${into.length} bytes, got ${size}`), {code: 'ESHORTREAD'}))
      resolve()
    })
  })
}

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
 * A packfile is read and verified in windows of about this many bytes, cut at blob boundaries,
 * instead of whole: a check held two whole packfiles (18 MiB each on a source tree), the largest
 * item of its peak after the V8 heaps. A window holds at least one blob, however large.
 */
export const WINDOW_BYTES = 4 * 1024 * 1024
/** Windows of one packfile read ahead of those still being verified. */
export const WINDOWS_IN_FLIGHT = 2
/**
 * Pool memory is at least this large: a window is up to WINDOW_BYTES, or one blob larger than
 * that (the largest chunk, 4 MiB, sealed and not compressible), and memory sized to the byte
 * fitted none of the next.
 */
const POOL_SIZE = WINDOW_BYTES + 64 * 1024

/** One index row of a packfile's blob: MAC in hex, type, offset and length (LocalCache.blobListOfPack). */
export type PackRow = [mac: string, type: number, offset: number, length: number]

/** Bytes [start, end) of a packfile, and the indexes (in `rows`) of the blobs wholly inside. */
export interface PackWindow {
  start: number
  end: number
  rows: number[]
}

/**
 * Cuts a packfile of `size` bytes into windows read one after the other: every byte in exactly
 * one (the packfile's MAC runs over them in order), each blob inside one, each window at most
 * `windowBytes` unless one blob alone is larger. Rows that overlap or run past the end (a
 * damaged index) give one window of the whole packfile, so that each such blob fails as it
 * would have read whole.
 */
export function packWindows(rows: PackRow[], size: number, windowBytes = WINDOW_BYTES): PackWindow[] {
  const order = rows.map((_, i) => i).sort((a, b) => rows[a][2] - rows[b][2])
  const windows: PackWindow[] = []
  let start = 0
  /** Blobs of the window being made, and where the last of them ends. */
  let pending: number[] = []
  let at = 0
  /** Windows over [start, limit): the first holds the pending blobs, the rest none. */
  const close = (limit: number) => {
    while (start < limit) {
      const end = Math.min(limit, Math.max(at, start + windowBytes))
      windows.push({start, end, rows: pending})
      pending = []
      start = end
    }
  }
  for (const i of order) {
    const [, , offset, length] = rows[i]
    if (offset < at || length < 0 || offset + length > size) return [{start: 0, end: size, rows: order}]
    // A blob that would make the window too large starts the next one.
    if (offset + length - start > windowBytes && offset > start) close(offset)
    pending.push(i)
    at = offset + length
  }
  // What follows the last blob: the packfile's index and footer.
  close(size)
  if (pending.length > 0 || windows.length === 0) windows.push({start, end: size, rows: pending})
  return windows
}

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
   * Bytes [start, end) of a packfile of `size` bytes (its listed size: a whole packfile that
   * is shorter or longer, or a window of it that ends early, fails with ESHORTREAD), in shared
   * memory of the pool: `release` gives it back once nothing reads it any more.
   */
  async read(pack: string, size: number, {start, end}: {start: number; end: number}): Promise<{bytes: Buffer; release: () => void}> {
    const memory = this.#take(end - start)
    const release = () => void this.#free.push(memory)
    try {
      const bytes = Buffer.from(memory, 0, end - start)
      const storage = this.#repo.storage
      const whole = start === 0 && end === size
      // Straight into the memory when the storage can (a local directory), without a stream.
      if (storage.readInto) await storage.readInto('packfile', pack, bytes, whole ? {} : {offset: start})
      else await readInto(await storage.get('packfile', pack, whole ? undefined : {offset: start, length: end - start}), bytes)
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
    // windows in flight.
    this.#free.pop()
    return new SharedArrayBuffer(Math.max(size, POOL_SIZE))
  }

  /**
   * Opens the blobs `window.rows` of `rows` in `data`, the window's bytes (verified, plaintexts
   * dropped); returns why each failed blob failed, by row index. Resolves only when no thread
   * reads `data` any more.
   */
  async verify(data: Buffer, rows: PackRow[], window: PackWindow): Promise<Map<number, string>> {
    const errors = new Map<number, string>()
    const slices: Promise<void>[] = []
    const indexes = window.rows
    for (let start = 0; start < indexes.length; ) {
      let end = start
      let bytes = 0
      while (end < indexes.length && end - start < SLICE_BLOBS && (end === start || bytes + rows[indexes[end]][3] <= SLICE_BYTES)) bytes += rows[indexes[end++]][3]
      const macs = Buffer.allocUnsafeSlow((end - start) * MAC_LENGTH)
      const blobs: Slice['blobs'] = []
      for (let i = start; i < end; i++) {
        const [hex, type, offset, length] = rows[indexes[i]]
        macs.write(hex, (i - start) * MAC_LENGTH, MAC_LENGTH, 'hex')
        blobs.push({type, offset: offset - window.start, length})
      }
      const first = start
      slices.push(
        new Promise<PromiseSettledResult<Map<number, string>>>((settle) => this.#queue.push({data, macs, blobs, settle})).then((outcome) => {
          if (outcome.status === 'rejected') throw outcome.reason
          for (const [i, why] of outcome.value) errors.set(indexes[first + i], why)
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

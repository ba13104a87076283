/**
 * Buffers for the packfile ranges a restore reads, used again once a decoding worker hands them
 * back. A restore reads its whole repository as ranges of up to MAX_RANGE bytes (the mixed
 * corpus: about a gigabyte), and a fresh buffer per range is a fresh mapping whose pages the
 * read faults in and whose release unmaps them again; a buffer handed back is read into as it
 * is.
 *
 * A range gets a buffer of the next power of two from MIN_POOLED up to MAX_POOLED bytes, and a
 * view of its length; smaller ranges (a small file's chunks) and larger ones get a buffer of
 * their own, as before. Only buffers made here are taken back, and at most FREE_BYTES of them
 * wait for the next range: the rest are left to the collector.
 *
 * A buffer moved to a worker and back is a new ArrayBuffer object over the same memory: the
 * caller that moved it (DecodePool) asks `owns` before, and hands back what returns with
 * `giveBack`.
 */
export const MIN_POOLED = 256 * 1024
export const MAX_POOLED = 16 * 1024 * 1024
export const FREE_BYTES = 64 * 1024 * 1024

export class RangeBuffers {
  /** Buffers made here (or handed back after a round trip to a worker). */
  readonly #made = new WeakSet<ArrayBufferLike>()
  /** Buffers waiting, by size. */
  readonly #free = new Map<number, ArrayBuffer[]>()
  #freeBytes = 0

  /** `length` bytes, for one range: a view of a buffer of this pool when the size is pooled. */
  take(length: number): Buffer {
    if (length < MIN_POOLED || length > MAX_POOLED) return Buffer.allocUnsafeSlow(length)
    const size = 2 ** Math.ceil(Math.log2(length))
    let buffer = this.#free.get(size)?.pop()
    if (buffer) {
      this.#freeBytes -= size
    } else {
      buffer = new ArrayBuffer(size)
      this.#made.add(buffer)
    }
    return Buffer.from(buffer, 0, length)
  }

  /** Bytes of the buffers waiting for a range. */
  get waiting(): number {
    return this.#freeBytes
  }

  /** Whether `buffer` is one of this pool's. */
  owns(buffer: ArrayBufferLike): boolean {
    return this.#made.has(buffer)
  }

  /** A buffer of this pool that nothing reads any more (others are ignored). */
  give(buffer: ArrayBufferLike): void {
    if (this.#made.has(buffer)) this.giveBack(buffer)
  }

  /**
   * A buffer that `owns` said was this pool's before it went to a worker and back (the object
   * is new, the memory the same), and that nothing reads any more.
   */
  giveBack(buffer: ArrayBufferLike): void {
    const size = buffer.byteLength
    if (buffer instanceof SharedArrayBuffer || size < MIN_POOLED || size > MAX_POOLED || (size & (size - 1)) !== 0) return
    if (this.#freeBytes + size > FREE_BYTES) return
    this.#made.add(buffer)
    const list = this.#free.get(size)
    if (list) {
      // Handed back twice (a caller's mistake) would give one buffer to two ranges.
      if (list.includes(buffer as ArrayBuffer)) return
      list.push(buffer as ArrayBuffer)
    } else {
      this.#free.set(size, [buffer as ArrayBuffer])
    }
    this.#freeBytes += size
  }
}

import {createCipheriv} from 'node:crypto'
import type {ChunkingConfig} from '../format/config.js'

/**
 * FastCDC (Xia et al., 2016) with normalised chunking (level 2): below the average size a
 * stricter mask makes cuts rarer, above it a looser one makes them likelier, which tightens the
 * size distribution around `avg`. The gear table is derived from a repository key so chunk
 * boundaries (visible as blob sizes) do not fingerprint well-known files.
 */
export function gearTable(seed: Uint8Array): Uint32Array {
  // AES-256-CTR keystream from the seed: 256 uniformly random 32-bit entries.
  const cipher = createCipheriv('aes-256-ctr', seed.subarray(0, 32), Buffer.alloc(16))
  const bytes = cipher.update(Buffer.alloc(256 * 4))
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) table[i] = bytes.readUInt32LE(i * 4)
  return table
}

/** A mask with `bits` one-bits spread over the high half of a 32-bit word. */
function spreadMask(bits: number): number {
  let mask = 0
  // Use the most significant bits: in a gear hash they depend on the most recent 32 bytes.
  for (let i = 0; i < bits; i++) mask |= 1 << (31 - i)
  return mask >>> 0
}

/**
 * Streaming chunker: feed it bytes with `push`, collect the chunks it returns, call `end` for
 * the last one. Each byte is copied at most twice; chunks are fresh buffers the caller owns.
 */
export class Chunker {
  readonly #min: number
  readonly #avg: number
  readonly #max: number
  readonly #maskS: number
  readonly #maskL: number
  readonly #gear: Uint32Array
  /** Grows on demand up to `max`: most files are far smaller than the largest chunk. */
  #buf: Buffer
  #fill = 0
  /** Scan position inside #buf and the rolling hash there. */
  #pos = 0
  #hash = 0

  constructor(config: ChunkingConfig, gear: Uint32Array) {
    this.#min = config.min
    this.#avg = config.avg
    this.#max = config.max
    const bits = Math.round(Math.log2(config.avg))
    this.#maskS = spreadMask(bits + 2)
    this.#maskL = spreadMask(bits - 2)
    this.#gear = gear
    this.#buf = Buffer.allocUnsafe(Math.min(config.max, 64 * 1024))
  }

  /** Forgets any buffered input, so one chunker can serve file after file. */
  reset(): void {
    this.#fill = 0
    this.#pos = 0
    this.#hash = 0
  }

  /**
   * Whether `length` bytes given at once are a single chunk, whatever they hold: no cut comes
   * before the minimum size. Such content (a small file's) can be used as its own chunk.
   */
  isOneChunk(length: number): boolean {
    return length <= this.#min
  }

  push(data: Uint8Array): Buffer[] {
    const out: Buffer[] = []
    let offset = 0
    while (offset < data.length) {
      if (this.#fill === this.#buf.length && this.#buf.length < this.#max) this.#grow(data.length - offset)
      const n = Math.min(data.length - offset, this.#buf.length - this.#fill)
      this.#buf.set(data.subarray(offset, offset + n), this.#fill)
      this.#fill += n
      offset += n
      for (;;) {
        const cut = this.#scan()
        if (cut < 0) break
        out.push(Buffer.from(this.#buf.subarray(0, cut)))
        this.#buf.copyWithin(0, cut, this.#fill)
        this.#fill -= cut
        this.#pos = 0
        this.#hash = 0
      }
    }
    return out
  }

  #grow(wanted: number): void {
    const size = Math.min(this.#max, Math.max(this.#buf.length * 2, this.#fill + wanted))
    const bigger = Buffer.allocUnsafe(size)
    this.#buf.copy(bigger, 0, 0, this.#fill)
    this.#buf = bigger
  }

  end(): Buffer | null {
    if (this.#fill === 0) return null
    const last = Buffer.from(this.#buf.subarray(0, this.#fill))
    this.#fill = 0
    this.#pos = 0
    this.#hash = 0
    return last
  }

  /** Continues scanning the buffered bytes; returns a cut length or -1 when more input is needed. */
  #scan(): number {
    const buf = this.#buf
    const fill = this.#fill
    const gear = this.#gear
    if (fill < this.#min && fill < this.#max) return -1
    let pos = Math.max(this.#pos, this.#min)
    let hash = this.#hash
    const normal = Math.min(this.#avg, fill)
    const maskS = this.#maskS
    for (; pos < normal; pos++) {
      hash = ((hash << 1) + gear[buf[pos]]) >>> 0
      if ((hash & maskS) === 0) return pos + 1
    }
    const end = Math.min(this.#max, fill)
    const maskL = this.#maskL
    for (; pos < end; pos++) {
      hash = ((hash << 1) + gear[buf[pos]]) >>> 0
      if ((hash & maskL) === 0) return pos + 1
    }
    if (end === this.#max) return this.#max
    this.#pos = pos
    this.#hash = hash
    return -1
  }
}

import {createHash, randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {Chunker, gearTable} from '../../src/chunking/fastcdc.js'
import type {ChunkingConfig} from '../../src/format/config.js'

const SMALL: ChunkingConfig = {algorithm: 'fastcdc', min: 2048, avg: 8192, max: 65536}
const SEED = Buffer.alloc(32, 7)

/** Chunks of `data`, fed in pieces of the given sizes (cycled), plus the final chunk. */
function chunk(data: Buffer, config = SMALL, seed: Uint8Array = SEED, pieces: number[] = [data.length]): Buffer[] {
  const chunker = new Chunker(config, gearTable(seed))
  const out: Buffer[] = []
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const n = Math.max(1, pieces[i % pieces.length])
    out.push(...chunker.push(data.subarray(offset, offset + n)))
    offset += n
  }
  const last = chunker.end()
  if (last) out.push(last)
  return out
}

const sizes = (chunks: Buffer[]) => chunks.map((c) => c.length)
const digest = (c: Buffer) => createHash('sha256').update(c).digest('hex')

/** Deterministic pseudo-random bytes (a test must not depend on luck). */
function data(size: number, seed = 'data'): Buffer {
  const out = Buffer.alloc(size)
  let block = createHash('sha256').update(seed).digest()
  for (let offset = 0; offset < size; offset += 32) {
    block.copy(out, offset)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

describe('FastCDC chunker', () => {
  const input = data(4 * 1024 * 1024)

  it('chunks concatenate back to the input', () => {
    expect(Buffer.concat(chunk(input)).equals(input)).toBe(true)
  })

  it('is deterministic, whatever the sizes of the pieces it is fed', () => {
    const whole = sizes(chunk(input))
    expect(sizes(chunk(input))).toEqual(whole)
    expect(sizes(chunk(input, SMALL, SEED, [1, 7, 4096, 65_537, 3, 100_000]))).toEqual(whole)
    expect(sizes(chunk(input, SMALL, SEED, [SMALL.max]))).toEqual(whole)
  })

  it('respects the min and max bounds (all but the last chunk ≥ min, every chunk ≤ max)', () => {
    for (const sample of [input, Buffer.alloc(1024 * 1024), Buffer.alloc(1024 * 1024, 0xff), data(SMALL.min * 3 + 5, 'x')]) {
      const s = sizes(chunk(sample))
      for (const size of s.slice(0, -1)) {
        expect(size).toBeGreaterThanOrEqual(SMALL.min)
        expect(size).toBeLessThanOrEqual(SMALL.max)
      }
      expect(s.at(-1)!).toBeLessThanOrEqual(SMALL.max)
      expect(s.reduce((a, b) => a + b, 0)).toBe(sample.length)
    }
  })

  it('cuts data without boundaries at max', () => {
    const s = sizes(chunk(Buffer.alloc(10 * SMALL.max)))
    // Zeros never reach a boundary in the normalised region: only forced cuts at max.
    expect(s.every((size) => size === SMALL.max)).toBe(true)
  })

  it('averages near the target size on random data', () => {
    const s = sizes(chunk(input))
    const mean = input.length / s.length
    // FastCDC with normalisation: mean ≈ avg (≈1.1× with min = avg/4).
    expect(mean).toBeGreaterThan(SMALL.avg * 0.85)
    expect(mean).toBeLessThan(SMALL.avg * 1.4)
    // Normalisation keeps the sizes tight: few chunks far from the average.
    const far = s.slice(0, -1).filter((size) => size > SMALL.avg * 3).length
    expect(far / s.length).toBeLessThan(0.05)
  })

  it('a few bytes inserted near the start change only one or two chunks', () => {
    const before = chunk(input)
    const edited = Buffer.concat([input.subarray(0, 5000), Buffer.from('inserted!'), input.subarray(5000)])
    const after = chunk(edited)
    const known = new Set(before.map(digest))
    const fresh = after.filter((c) => !known.has(digest(c)))
    expect(fresh.length).toBeGreaterThanOrEqual(1)
    expect(fresh.length).toBeLessThanOrEqual(2)
    expect(after.length - before.length).toBeLessThanOrEqual(1)
  })

  it('a byte changed in the middle changes only one or two chunks', () => {
    const edited = Buffer.from(input)
    edited[2 * 1024 * 1024] ^= 0x55
    const known = new Set(chunk(input).map(digest))
    expect(chunk(edited).filter((c) => !known.has(digest(c))).length).toBeLessThanOrEqual(2)
  })

  it('different keys give different boundaries', () => {
    const a = sizes(chunk(input, SMALL, Buffer.alloc(32, 1)))
    const b = sizes(chunk(input, SMALL, Buffer.alloc(32, 2)))
    expect(a).not.toEqual(b)
    // Not merely shifted: most cut points differ.
    const cuts = (s: number[]) => new Set(s.map((_, i) => s.slice(0, i + 1).reduce((x, y) => x + y, 0)))
    const shared = [...cuts(a)].filter((c) => cuts(b).has(c)).length
    expect(shared / a.length).toBeLessThan(0.2)
  })

  it('gear tables depend on the seed only', () => {
    expect(gearTable(Buffer.alloc(32, 9))).toEqual(gearTable(Buffer.alloc(32, 9)))
    expect(gearTable(Buffer.alloc(32, 9))).not.toEqual(gearTable(Buffer.alloc(32, 10)))
    expect(new Set(gearTable(randomBytes(32))).size).toBeGreaterThan(250)
  })

  it('reset() forgets buffered input', () => {
    const chunker = new Chunker(SMALL, gearTable(SEED))
    chunker.push(data(1000, 'junk'))
    chunker.reset()
    const out = chunker.push(input.subarray(0, 200_000))
    const last = chunker.end()
    if (last) out.push(last)
    expect(sizes(out)).toEqual(sizes(chunk(input.subarray(0, 200_000))))
  })

  it('empty input gives no chunk, tiny input one chunk', () => {
    expect(chunk(Buffer.alloc(0))).toEqual([])
    expect(sizes(chunk(Buffer.from('hello')))).toEqual([5])
  })

  it('isOneChunk(n): up to the minimum size, whatever the content, it is one chunk (none when empty)', () => {
    // The chunking worker seals such content (a small file's) as it is, without the chunker.
    const chunker = new Chunker(SMALL, gearTable(SEED))
    const zeros = Buffer.alloc(SMALL.min)
    for (const n of [0, 1, 100, SMALL.min - 1, SMALL.min]) {
      expect(chunker.isOneChunk(n)).toBe(true)
      for (const content of [input.subarray(0, n), zeros.subarray(0, n), data(n, `other ${n}`)]) {
        expect(chunk(content, SMALL, SEED, [1, 7, 1000])).toEqual(n === 0 ? [] : [content])
      }
    }
    for (const n of [SMALL.min + 1, SMALL.avg, SMALL.max]) expect(chunker.isOneChunk(n)).toBe(false)
  })
})

import {describe, expect, it} from 'vitest'
import {FREE_BYTES, MAX_POOLED, MIN_POOLED, RangeBuffers} from '../../src/repository/range-buffers.js'

describe('range buffers', () => {
  it('gives a view of a power-of-two buffer, and the same buffer again once handed back', () => {
    const buffers = new RangeBuffers()
    const a = buffers.take(300_000)
    expect(a.length).toBe(300_000)
    expect(a.buffer.byteLength).toBe(512 * 1024)
    expect(buffers.owns(a.buffer)).toBe(true)
    buffers.give(a.buffer)
    expect(buffers.waiting).toBe(512 * 1024)
    const b = buffers.take(400_000)
    expect(b.buffer).toBe(a.buffer)
    expect(buffers.waiting).toBe(0)
    // Another size class is another buffer.
    expect(buffers.take(600_000).buffer.byteLength).toBe(1024 * 1024)
  })

  it('keeps no buffer for a range too small or too large, nor one it did not make', () => {
    const buffers = new RangeBuffers()
    for (const length of [MIN_POOLED - 1, MAX_POOLED + 1]) {
      const bytes = buffers.take(length)
      expect(bytes.buffer.byteLength).toBe(length)
      expect(buffers.owns(bytes.buffer)).toBe(false)
      buffers.give(bytes.buffer)
    }
    buffers.give(new ArrayBuffer(MIN_POOLED))
    expect(buffers.waiting).toBe(0)
  })

  it('takes back a buffer that went to a worker and back (a new object, the same size), once', () => {
    const buffers = new RangeBuffers()
    const sent = buffers.take(MIN_POOLED)
    expect(buffers.owns(sent.buffer)).toBe(true)
    // What a round trip returns: an ArrayBuffer object it never saw.
    const back = new ArrayBuffer(sent.buffer.byteLength)
    buffers.giveBack(back)
    buffers.giveBack(back)
    expect(buffers.waiting).toBe(MIN_POOLED)
    expect(buffers.take(MIN_POOLED).buffer).toBe(back)
    // Not a size it makes: ignored.
    buffers.giveBack(new ArrayBuffer(MIN_POOLED + 1))
    expect(buffers.waiting).toBe(0)
  })

  it('holds at most FREE_BYTES of waiting buffers', () => {
    const buffers = new RangeBuffers()
    const taken = Array.from({length: FREE_BYTES / MAX_POOLED + 2}, () => buffers.take(MAX_POOLED))
    for (const bytes of taken) buffers.give(bytes.buffer)
    expect(buffers.waiting).toBe(FREE_BYTES)
  })
})

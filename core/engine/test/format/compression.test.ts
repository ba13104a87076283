import {describe, expect, it} from 'vitest'
import {Codec, Compressor} from '../../src/format/compression.js'

describe('Compressor', () => {
  it('decompresses small blobs into buffers of their own (movable to another thread)', () => {
    const c = new Compressor({algorithm: 'zstd', level: 3})
    const {codec, bytes} = c.compress(Buffer.alloc(1000, 7))
    expect(codec).toBe(Codec.ZSTD)
    const plain = c.decompress(codec, Buffer.from(bytes))
    expect(plain.equals(Buffer.alloc(1000, 7))).toBe(true)
    expect(plain.buffer.byteLength).toBe(1000)
  })

  it('round-trips small and large data', () => {
    const c = new Compressor({algorithm: 'zstd', level: 3})
    for (const data of [Buffer.alloc(0), Buffer.from('short'), Buffer.alloc(1 << 20, 'abc')]) {
      const {codec, bytes} = c.compress(data)
      expect(c.decompress(codec, Buffer.from(bytes)).equals(data)).toBe(true)
    }
  })

  it('never writes a frame it refuses to read: a plaintext over 64 MiB is stored uncompressed', () => {
    // The chunk list of a file with ~2M chunks (small chunk sizes, a file of a few GiB) is
    // such a blob: compressed, it could be written but never read back.
    const c = new Compressor({algorithm: 'zstd', level: 1})
    const data = Buffer.alloc(64 * 1024 * 1024 + 1, 7)
    const {codec, bytes} = c.compress(data)
    expect(codec).toBe(Codec.NONE)
    expect(c.decompress(codec, Buffer.from(bytes)).equals(data)).toBe(true)
  })
})

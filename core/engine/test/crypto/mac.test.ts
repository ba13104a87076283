import {Blake3Hasher} from '@napi-rs/blake-hash'
import {randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {Mac} from '../../src/crypto/mac.js'

describe('Mac', () => {
  it('gives, digest after digest from one reused hasher, what a fresh keyed BLAKE3 gives', () => {
    const key = randomBytes(32)
    const mac = new Mac(key)
    for (let i = 0; i < 200; i++) {
      const parts = [randomBytes(i * 37), randomBytes(i % 3), randomBytes(4096)]
      const fresh = Blake3Hasher.newKeyed(key)
      for (const p of parts) fresh.update(p)
      const expected = fresh.digestBuffer()
      expect(mac.digest(...parts).equals(expected)).toBe(true)
      // A stream opened meanwhile has its own hasher, and agrees.
      const stream = mac.stream()
      for (const p of parts) stream.update(p)
      expect(mac.digest(Buffer.from('interleaved')).length).toBe(32)
      expect(stream.digest().equals(expected)).toBe(true)
    }
  })

  it('depends on the key', () => {
    const data = Buffer.from('same data')
    expect(new Mac(randomBytes(32)).digest(data).equals(new Mac(randomBytes(32)).digest(data))).toBe(false)
  })
})

/**
 * The decoding workers (core/engine/src/repository/decode-pool.ts) run only from the compiled engine, so
 * these tests drive core/engine/dist directly, as the CLI does.
 */
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ROOT} from '../support/cli.js'

const dist = async <T>(path: string): Promise<T> => (await import(join(ROOT, path))) as T

describe('decoding workers', () => {
  it('a worker that dies as it starts is never sent work: requests are answered, not lost or left hanging', async () => {
    const {DecodePool} = await dist<typeof import('../../core/engine/src/repository/decode-pool.js')>('core/engine/dist/repository/decode-pool.js')
    const {KeySet} = await dist<typeof import('../../core/engine/src/crypto/keys.js')>('core/engine/dist/crypto/keys.js')
    const {Compressor} = await dist<typeof import('../../core/engine/src/format/compression.js')>('core/engine/dist/format/compression.js')
    const {sealBlob} = await dist<typeof import('../../core/engine/src/format/blob.js')>('core/engine/dist/format/blob.js')
    const keys = KeySet.plaintext(Buffer.alloc(32, 9))
    const compression = {algorithm: 'zstd' as const, level: 3}
    const compressor = new Compressor(compression)
    // Keys the workers cannot use: each one throws as it starts, as a crashed worker would.
    const repo = {
      keys: {sealer: keys.sealer, blobMac: keys.blobMac, subkeys: () => ({...keys.subkeys(), blobMac: new Uint8Array(3)})},
      compressor,
      config: {compression},
    }
    const pool = new DecodePool(repo as never, 2)
    try {
      const plain = Buffer.from('a blob to open')
      const mac = keys.blobMac.digest(plain)
      const sealed = sealBlob(keys, compressor, 1, mac, plain)
      // Asked at once, while the workers are still starting: the request waits until they have
      // all failed (a pool that posted it to one of them would lose it), then runs on this thread.
      const outcome = await pool.decode(Buffer.from(sealed), [{type: 1, mac, offset: 0, length: sealed.length}]).then(
        (d) => d.plaintexts[0]?.toString() ?? 'failed',
        (error: Error) => `rejected: ${error.message}`,
      )
      expect(outcome).toBe('a blob to open')
    } finally {
      await pool.close()
    }
  })

  it('with decodeHere, a request is opened on this thread only when the worker has requests left to answer (not replies left to deliver): plaintexts and failures as from the worker', async () => {
    const {DecodePool} = await dist<typeof import('../../core/engine/src/repository/decode-pool.js')>('core/engine/dist/repository/decode-pool.js')
    const {KeySet} = await dist<typeof import('../../core/engine/src/crypto/keys.js')>('core/engine/dist/crypto/keys.js')
    const {Compressor} = await dist<typeof import('../../core/engine/src/format/compression.js')>('core/engine/dist/format/compression.js')
    const {sealBlob} = await dist<typeof import('../../core/engine/src/format/blob.js')>('core/engine/dist/format/blob.js')
    const keys = KeySet.plaintext(Buffer.alloc(32, 7))
    const compression = {algorithm: 'zstd' as const, level: 3}
    const compressor = new Compressor(compression)
    const repo = {keys, compressor, config: {compression}}
    const pool = new DecodePool(repo as never, 1, true)
    // Two blobs in one range, the second with a flipped byte: each request must open the first
    // and report the second, wherever it is decoded.
    const range = () => {
      const good = Buffer.from('x'.repeat(100_000) + 'a compressible blob')
      const bad = Buffer.from('another blob, damaged below')
      const [gm, bm] = [keys.blobMac.digest(good), keys.blobMac.digest(bad)]
      const [gs, bs] = [sealBlob(keys, compressor, 1, gm, good), Buffer.from(sealBlob(keys, compressor, 1, bm, bad))]
      bs[bs.length - 3] ^= 1
      const blobs = [
        {type: 1, mac: gm, offset: 0, length: gs.length},
        {type: 1, mac: bm, offset: gs.length, length: bs.length},
      ]
      return {data: Buffer.concat([gs, bs]), blobs, good}
    }
    try {
      // The first request waits for the worker to be ready: from then on it takes requests.
      const first = range()
      expect((await pool.decode(first.data, first.blobs)).plaintexts[0]).toEqual(first.good)
      // Two posted, and this thread waits (without yielding) until the worker has answered both:
      // their replies are still in this thread's queue, yet the worker is idle, so the next
      // request goes to it and is not opened here.
      const [a, b, c] = [range(), range(), range()]
      const posted = [pool.decode(a.data, a.blobs), pool.decode(b.data, b.blobs)]
      while (pool.unanswered > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1)
      posted.push(pool.decode(c.data, c.blobs))
      expect(pool.openedHere).toBe(0)
      for (const d of await Promise.all(posted)) {
        expect(d.plaintexts[0]).toEqual(a.good)
        expect(d.plaintexts[1]).toBeNull()
        expect([...d.errors.keys()]).toEqual([1])
      }
    } finally {
      await pool.close()
    }
    // Opened here (a pool that decodes here before any worker holds a request): the same
    // plaintexts and failures as from the worker.
    const here = new DecodePool(repo as never, 1, true, 0)
    try {
      const first = range()
      expect((await here.decode(first.data, first.blobs)).plaintexts[0]).toEqual(first.good)
      expect(here.openedHere).toBe(1)
      const d = await here.decode(range().data, first.blobs)
      expect(d.plaintexts[0]).toEqual(first.good)
      expect(d.plaintexts[1]).toBeNull()
      expect([...d.errors.keys()]).toEqual([1])
      expect([...(await here.decode(range().data, first.blobs, true)).errors.keys()]).toEqual([1])
      expect(here.openedHere).toBe(3)
    } finally {
      await here.close()
    }
  })
  it('range buffers go to a worker as views and come back to be read into again; uncompressed plaintexts arrive whole', async () => {
    const {DecodePool} = await dist<typeof import('../../core/engine/src/repository/decode-pool.js')>('core/engine/dist/repository/decode-pool.js')
    const {RangeBuffers} = await dist<typeof import('../../core/engine/src/repository/range-buffers.js')>('core/engine/dist/repository/range-buffers.js')
    const {KeySet} = await dist<typeof import('../../core/engine/src/crypto/keys.js')>('core/engine/dist/crypto/keys.js')
    const {Compressor} = await dist<typeof import('../../core/engine/src/format/compression.js')>('core/engine/dist/format/compression.js')
    const {sealBlob} = await dist<typeof import('../../core/engine/src/format/blob.js')>('core/engine/dist/format/blob.js')
    const compression = {algorithm: 'zstd' as const, level: 3}
    const compressor = new Compressor(compression)
    for (const keys of [KeySet.fromMasterKey(Buffer.alloc(32, 1), Buffer.alloc(32, 2)), KeySet.plaintext(Buffer.alloc(32, 3))]) {
      const buffers = new RangeBuffers()
      // Never opened here: every request goes to the worker.
      const pool = new DecodePool({keys, compressor, config: {compression}} as never, 1, false, undefined, buffers)
      try {
        for (let round = 0; round < 4; round++) {
          // A random (stored uncompressed) blob and a compressible one, in one range buffer
          // that earlier rounds used.
          const plains = [randomBytes(300_000 + round), Buffer.from(`round ${round} `.repeat(20_000))]
          const macs = plains.map((p) => keys.blobMac.digest(p))
          const sealed = plains.map((p, i) => sealBlob(keys, compressor, 1, macs[i], p))
          const data = buffers.take(sealed[0].length + sealed[1].length)
          data.set(sealed[0], 0)
          data.set(sealed[1], sealed[0].length)
          const blobs = [
            {type: 1, mac: macs[0], offset: 0, length: sealed[0].length},
            {type: 1, mac: macs[1], offset: sealed[0].length, length: sealed[1].length},
          ]
          const {plaintexts, errors} = await pool.decode(data, blobs)
          expect(errors.size).toBe(0)
          expect(plaintexts.map((p, i) => p!.equals(plains[i]))).toEqual([true, true])
          // Encrypted, the uncompressed one is the decryption's own buffer, moved after its two
          // framing bytes rather than copied; in a plaintext repository it viewed the range
          // and was copied out of it.
          expect(plaintexts[0]!.byteOffset).toBe(keys.subkeys().encrypted ? 2 : 0)
          expect(buffers.waiting).toBe(512 * 1024)
        }
      } finally {
        await pool.close()
      }
    }
  })
})

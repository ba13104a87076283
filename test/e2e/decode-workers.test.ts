/**
 * The decoding workers (core/engine/src/repository/decode-pool.ts) run only from the compiled engine, so
 * these tests drive core/engine/dist directly, as the CLI does.
 */
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
})

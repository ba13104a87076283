import {randomBytes} from 'node:crypto'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {IntegrityError} from '@plakar/sdk'
import {KeySet} from '../../src/crypto/keys.js'
import {PackfileBuilder, openFooter, parityOf, readPackfileIndex} from '../../src/format/packfile.js'
import {buildParity, PARITY_GROUP, PARITY_SHARD, repairWithParity} from '../../src/format/parity.js'

const keys = KeySet.fromMasterKey(randomBytes(32), randomBytes(32))

describe('metadata parity', () => {
  it('repairs any single damaged byte, and any damage confined to one shard per group', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 200_000}), fc.nat(), fc.integer({min: 1, max: 255}), fc.integer({min: 1, max: PARITY_SHARD}), (size, where, xor, span) => {
        const data = randomBytes(size)
        const section = buildParity(data)
        const damaged = Buffer.from(data)
        const at = where % size
        // A run within one shard: a flipped byte, a torn sector.
        const end = Math.min(size, (Math.floor(at / PARITY_SHARD) + 1) * PARITY_SHARD, at + span)
        for (let i = at; i < end; i++) damaged[i] ^= xor
        const result = repairWithParity(damaged, section)
        expect(result.repaired).toBe(1)
        expect(result.unrepairable).toBe(0)
        expect(result.data.equals(data)).toBe(true)
      }),
      {numRuns: 60},
    )
  })

  it('leaves two damaged shards of one group as they are, and repairs other groups', () => {
    const data = randomBytes(3 * PARITY_GROUP * PARITY_SHARD)
    const section = buildParity(data)
    const damaged = Buffer.from(data)
    damaged[10] ^= 1
    damaged[PARITY_SHARD + 10] ^= 1
    damaged[PARITY_GROUP * PARITY_SHARD + 5] ^= 1
    const result = repairWithParity(damaged, section)
    expect(result).toMatchObject({repaired: 1, unrepairable: 2})
    expect(result.data.subarray(PARITY_GROUP * PARITY_SHARD).equals(data.subarray(PARITY_GROUP * PARITY_SHARD))).toBe(true)
  })

  it('refuses a damaged parity table, and costs 1/16 of the metadata plus 4 bytes per shard', () => {
    const data = randomBytes(1 << 20)
    const section = buildParity(data)
    expect(section.length / data.length).toBeCloseTo(1 / 16 + 4 / PARITY_SHARD, 3)
    const bad = Buffer.from(section)
    bad[20] ^= 1
    expect(() => repairWithParity(data, bad)).toThrow(IntegrityError)
  })

  it('is written into metadata packfiles only, between the blobs and the index', () => {
    for (const kind of ['meta', 'data'] as const) {
      const builder = new PackfileBuilder(keys, kind)
      for (let i = 0; i < 20; i++) builder.add(3, randomBytes(32), randomBytes(3000), 5000)
      const bytes = Buffer.concat(builder.finish().parts)
      const footerLength = bytes.readUInt32BE(bytes.length - 4)
      const footer = openFooter(keys, bytes.subarray(bytes.length - 4 - footerLength, bytes.length - 4))
      const parity = parityOf(keys, bytes.subarray(footer.indexOffset, footer.indexOffset + footer.indexLength), footer)
      expect(readPackfileIndex(keys, bytes).blobs).toHaveLength(20)
      if (kind === 'data') {
        expect(parity).toBeUndefined()
        continue
      }
      expect(parity).toEqual({offset: 60_000, length: footer.indexOffset - 60_000})
      const damaged = Buffer.from(bytes)
      damaged[12_345] ^= 0x40
      const {data, repaired} = repairWithParity(damaged.subarray(0, parity!.offset), damaged.subarray(parity!.offset, parity!.offset + parity!.length))
      expect(repaired).toBe(1)
      expect(data.equals(bytes.subarray(0, 60_000))).toBe(true)
    }
  })
})

import {randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {KeySet} from '../../src/crypto/keys.js'
import {IntegrityError} from '@plakar/sdk'
import {EnvelopeType, sealEnvelope} from '../../src/format/codec.js'
import {PACKFILE_VERSION, PackfileBuilder, readPackfileIndex} from '../../src/format/packfile.js'

const keys = KeySet.fromMasterKey(randomBytes(32), randomBytes(32))

function build(kind: 'data' | 'meta', count: number) {
  const builder = new PackfileBuilder(keys, kind)
  const blobs = Array.from({length: count}, (_, i) => ({type: 1 + (i % 3), mac: randomBytes(32), sealed: randomBytes(100 + i * 37), raw: 1000 + i}))
  for (const b of blobs) builder.add(b.type, b.mac, b.sealed, b.raw)
  const finished = builder.finish()
  return {blobs, finished, bytes: Buffer.concat(finished.parts)}
}

describe('packfiles', () => {
  it('builds, then readPackfileIndex finds every blob where it was put', () => {
    const {blobs, finished, bytes} = build('data', 50)
    expect(bytes.length).toBe(finished.size)
    const index = readPackfileIndex(keys, bytes)
    expect(index.kind).toBe('data')
    expect(index.blobs.length).toBe(50)
    index.blobs.forEach((entry, i) => {
      expect(entry.type).toBe(blobs[i].type)
      expect(entry.mac.equals(blobs[i].mac)).toBe(true)
      expect(entry.rawLength).toBe(blobs[i].raw)
      expect(bytes.subarray(entry.offset, entry.offset + entry.length).equals(blobs[i].sealed)).toBe(true)
    })
    expect(finished.blobs.map((b) => b.offset)).toEqual(index.blobs.map((b) => b.offset))
  })

  it('its id is the keyed MAC of its bytes', () => {
    const {finished, bytes} = build('meta', 3)
    expect(finished.id).toBe(keys.objectMac.digest(bytes).toString('hex'))
    expect(finished.id).toMatch(/^[0-9a-f]{64}$/)
  })

  it('keeps its kind, and an empty packfile is readable', () => {
    const {bytes} = build('meta', 0)
    expect(readPackfileIndex(keys, bytes)).toEqual({kind: 'meta', blobs: []})
  })

  it('does not reveal blob ids: the index is sealed', () => {
    const {blobs, bytes} = build('data', 5)
    const tail = bytes.subarray(blobs.reduce((n, b) => n + b.sealed.length, 0))
    for (const b of blobs) expect(tail.includes(b.mac)).toBe(false)
  })

  it('damage to the index or footer, truncation and a wrong key are IntegrityErrors', () => {
    const {bytes} = build('data', 10)
    const damaged = (position: number) => {
      const copy = Buffer.from(bytes)
      copy[position] ^= 0x01
      return copy
    }
    const cases = [
      damaged(bytes.length - 1), // footer length
      damaged(bytes.length - 10), // footer
      damaged(bytes.length - 200), // index
      bytes.subarray(0, bytes.length - 1),
      bytes.subarray(0, 3),
      Buffer.alloc(0),
    ]
    for (const bad of cases) expect(() => readPackfileIndex(keys, bad)).toThrow(IntegrityError)
    const other = KeySet.fromMasterKey(randomBytes(32), randomBytes(32))
    expect(() => readPackfileIndex(other, bytes)).toThrow(IntegrityError)
  })

  it('a well-sealed but inconsistent footer or index is an IntegrityError', () => {
    const blob = randomBytes(64)
    const index = sealEnvelope(keys.sealer, EnvelopeType.PACK_INDEX, PACKFILE_VERSION, {kind: 'data', blobs: [[1, randomBytes(32), 0, 64, 64]]})
    const assemble = (footer: object) => {
      const sealed = sealEnvelope(keys.sealer, EnvelopeType.PACK_FOOTER, PACKFILE_VERSION, footer)
      const trailer = Buffer.alloc(4)
      trailer.writeUInt32BE(sealed.length)
      return Buffer.concat([blob, index, sealed, trailer])
    }
    expect(readPackfileIndex(keys, assemble({indexOffset: 64, indexLength: index.length, count: 1})).blobs).toHaveLength(1)
    expect(() => readPackfileIndex(keys, assemble({indexOffset: 63, indexLength: index.length, count: 1}))).toThrow(/inconsistent/)
    expect(() => readPackfileIndex(keys, assemble({indexOffset: 64, indexLength: index.length, count: 2}))).toThrow(/inconsistent/)
  })
})

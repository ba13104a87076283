import {randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {KeySet} from '../../src/crypto/keys.js'
import {FormatTooNewError, IntegrityError} from '@plakar/sdk'
import {EnvelopeType, sealEnvelope} from '../../src/format/codec.js'
import {emptyDelta, openState, sealState, type StateDelta} from '../../src/format/state.js'

const keys = KeySet.fromMasterKey(randomBytes(32), randomBytes(32))

function delta(): StateDelta {
  return {
    ...emptyDelta('host-a'),
    packfiles: [{id: 'ab'.repeat(32), kind: 'data', blobs: [[1, randomBytes(32), 0, 100, 250]]}],
    snapshots: [{id: randomBytes(32), header: randomBytes(32), time: 1_700_000_000_000}],
    deletedPackfiles: ['cd'.repeat(32)],
  }
}

describe('state deltas', () => {
  it('seal then open round trips; the id is the MAC of the bytes', () => {
    const d = delta()
    const {id, bytes} = sealState(keys, d)
    expect(id).toBe(keys.objectMac.digest(bytes).toString('hex'))
    const back = openState(keys, id, bytes)
    expect(back.host).toBe('host-a')
    expect(back.packfiles[0].id).toBe(d.packfiles[0].id)
    expect(Buffer.from(back.packfiles[0].blobs[0][1]).equals(d.packfiles[0].blobs[0][1])).toBe(true)
    expect(Buffer.from(back.snapshots[0].id).equals(d.snapshots[0].id)).toBe(true)
    expect(back.deletedPackfiles).toEqual(d.deletedPackfiles)
    expect(back.supersedes).toEqual([])
  })

  it('an id that does not match the bytes is detected', () => {
    const {id, bytes} = sealState(keys, delta())
    const other = sealState(keys, delta())
    expect(() => openState(keys, other.id, bytes)).toThrow(IntegrityError)
    expect(() => openState(keys, id, other.bytes)).toThrow(/does not match its id/)
  })

  it('truncation or a flipped byte is an IntegrityError', () => {
    const {id, bytes} = sealState(keys, delta())
    expect(() => openState(keys, id, bytes.subarray(0, bytes.length - 1))).toThrow(IntegrityError)
    const flipped = Buffer.from(bytes)
    flipped[40] ^= 0x80
    expect(() => openState(keys, id, flipped)).toThrow(IntegrityError)
  })

  it('another repository’s keys cannot open it', () => {
    const {id, bytes} = sealState(keys, delta())
    expect(() => openState(KeySet.fromMasterKey(randomBytes(32), randomBytes(32)), id, bytes)).toThrow(IntegrityError)
  })

  it('a state from a newer plakar is refused as too new (exit 78), not as corrupted', () => {
    const bytes = sealEnvelope(keys.sealer, EnvelopeType.STATE, 2, {future: true})
    const id = keys.objectMac.digest(bytes).toString('hex')
    expect(() => openState(keys, id, bytes)).toThrow(FormatTooNewError)
    // Even with an id this reader cannot verify.
    expect(() => openState(keys, 'ff'.repeat(32), bytes)).toThrow(FormatTooNewError)
  })
})

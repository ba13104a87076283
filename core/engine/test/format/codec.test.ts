import {randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {KeySet} from '../../src/crypto/keys.js'
import {ExitCode, exitCodeOf, FormatTooNewError, IntegrityError} from '@plakar/sdk'
import {checkHeader, decode, encode, envelopeHeader, EnvelopeType, HEADER_LENGTH, openEnvelope, sealEnvelope} from '../../src/format/codec.js'

const keys = KeySet.fromMasterKey(randomBytes(32), randomBytes(32))
const value = {name: 'lock', n: 42, nested: {list: [1, 2, 3], bytes: Buffer.from('abc')}}

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected an error')
}

describe('codec', () => {
  it('encodes deterministically and decodes back', () => {
    expect(encode(value).equals(encode(structuredClone(value)))).toBe(true)
    const back = decode<typeof value>(encode(value))
    expect(back.name).toBe('lock')
    expect(Buffer.from(back.nested.bytes).toString()).toBe('abc')
  })

  it('truncated or empty input is an IntegrityError', () => {
    for (const bytes of [[0x92, 0x01], [], [0xdb, 0, 0, 0, 9, 0x41], [0x81]]) {
      expect(() => decode(Buffer.from(bytes)), `decode(${JSON.stringify(bytes)})`).toThrow(IntegrityError)
    }
    const whole = encode(value)
    expect(() => decode(whole.subarray(0, whole.length - 1))).toThrow(IntegrityError)
  })
})

describe('envelopes', () => {
  const sealed = sealEnvelope(keys.sealer, EnvelopeType.LOCK, 1, value, Buffer.from('ctx'))

  it('start with the magic, the type and the version', () => {
    expect(sealed.subarray(0, 4).toString()).toBe('PLKR')
    expect(sealed[4]).toBe(EnvelopeType.LOCK)
    expect(sealed[5]).toBe(1)
  })

  it('round trip', () => {
    const {version, value: back} = openEnvelope<typeof value>(keys.sealer, sealed, EnvelopeType.LOCK, 1, Buffer.from('ctx'))
    expect(version).toBe(1)
    expect(back.n).toBe(42)
  })

  it('a newer version is a FormatTooNewError with exit code 78, before any authentication', () => {
    const newer = Buffer.from(sealed)
    newer[5] = 2
    const error = thrown(() => openEnvelope(keys.sealer, newer, EnvelopeType.LOCK, 1, Buffer.from('ctx')))
    expect(error).toBeInstanceOf(FormatTooNewError)
    expect(exitCodeOf(error)).toBe(ExitCode.FORMAT_TOO_NEW)
    expect(exitCodeOf(error)).toBe(78)
    expect((error as Error).message).toMatch(/version 2.*upgrade/)
  })

  it('an older version is still read', () => {
    const old = sealEnvelope(keys.sealer, EnvelopeType.STATE, 1, {old: true})
    expect(openEnvelope<{old: boolean}>(keys.sealer, old, EnvelopeType.STATE, 3).value.old).toBe(true)
    expect(checkHeader(envelopeHeader(EnvelopeType.STATE, 2), EnvelopeType.STATE, 3)).toBe(2)
  })

  it('bad magic, wrong type, version 0 and truncation are IntegrityErrors (exit 65)', () => {
    const badMagic = Buffer.from(sealed)
    badMagic[0] = 0x58
    const wrongType = Buffer.from(sealed)
    wrongType[4] = EnvelopeType.STATE
    const zero = Buffer.from(sealed)
    zero[5] = 0
    for (const bytes of [badMagic, wrongType, zero, sealed.subarray(0, HEADER_LENGTH - 1), Buffer.alloc(0)]) {
      const error = thrown(() => openEnvelope(keys.sealer, bytes, EnvelopeType.LOCK, 1, Buffer.from('ctx')))
      expect(error).toBeInstanceOf(IntegrityError)
      expect(exitCodeOf(error)).toBe(65)
    }
    // Each is named for what it is, before any authentication is attempted.
    expect((thrown(() => checkHeader(badMagic, EnvelopeType.LOCK, 1)) as Error).message).toMatch(/bad magic/)
    expect((thrown(() => checkHeader(wrongType, EnvelopeType.LOCK, 1)) as Error).message).toMatch(/has type 4, expected 5/)
    expect((thrown(() => checkHeader(zero, EnvelopeType.LOCK, 1)) as Error).message).toMatch(/version 0/)
    expect(thrown(() => checkHeader(wrongType, EnvelopeType.LOCK, 1))).toBeInstanceOf(IntegrityError)
  })

  it('the header and the context are authenticated', () => {
    // Same version, other type byte patched back in the body: authentication fails.
    const otherContext = thrown(() => openEnvelope(keys.sealer, sealed, EnvelopeType.LOCK, 1, Buffer.from('other')))
    expect(otherContext).toBeInstanceOf(IntegrityError)
    const reserved = Buffer.from(sealed)
    reserved[6] = 1 // a reserved header byte
    expect(thrown(() => openEnvelope(keys.sealer, reserved, EnvelopeType.LOCK, 1, Buffer.from('ctx')))).toBeInstanceOf(IntegrityError)
    const body = Buffer.from(sealed)
    body[body.length - 20] ^= 1
    expect(thrown(() => openEnvelope(keys.sealer, body, EnvelopeType.LOCK, 1, Buffer.from('ctx')))).toBeInstanceOf(IntegrityError)
  })
})

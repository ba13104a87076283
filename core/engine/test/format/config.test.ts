import {randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {Mac} from '../../src/crypto/mac.js'
import {FormatTooNewError, IntegrityError} from '@plakar/sdk'
import {
  authenticateConfig,
  DEFAULT_CHUNKING,
  DEFAULT_COMPRESSION,
  DEFAULT_PACKFILE_SIZE,
  newRepositoryId,
  parseConfig,
  serializeConfig,
  validateChunking,
  type RepositoryConfig,
} from '../../src/format/config.js'

function config(): RepositoryConfig {
  return {
    version: 1,
    id: newRepositoryId(),
    created: '2025-01-02T03:04:05.000Z',
    chunking: DEFAULT_CHUNKING,
    packfile: {maxSize: DEFAULT_PACKFILE_SIZE},
    mac: 'blake3-keyed',
    compression: DEFAULT_COMPRESSION,
    encryption: {
      algorithm: 'aes-256-gcm-hmac-subkey',
      kdf: {algorithm: 'argon2id', salt: randomBytes(16), memory: 65536, iterations: 3, parallelism: 2},
      wrappedKey: randomBytes(60),
      canary: randomBytes(32),
    },
  }
}

describe('repository config', () => {
  const mac = new Mac(randomBytes(32))

  it('serialises, parses without a key, and authenticates with the right one', () => {
    const c = config()
    const bytes = serializeConfig(c, mac)
    const parsed = parseConfig(bytes)
    expect(Buffer.from(parsed.id).equals(Buffer.from(c.id))).toBe(true)
    expect(parsed.chunking).toEqual(DEFAULT_CHUNKING)
    expect(parsed.encryption!.kdf.iterations).toBe(3)
    expect(Buffer.from(parsed.encryption!.kdf.salt).equals(Buffer.from(c.encryption!.kdf.salt))).toBe(true)
    expect(() => authenticateConfig(bytes, mac)).not.toThrow()
  })

  it('authentication fails for any modified byte or another key', () => {
    const bytes = serializeConfig(config(), mac)
    expect(() => authenticateConfig(bytes, new Mac(randomBytes(32)))).toThrow(IntegrityError)
    for (const position of [6, 20, bytes.length - 40, bytes.length - 1]) {
      const copy = Buffer.from(bytes)
      copy[position] ^= 0x04
      expect(() => authenticateConfig(copy, mac), `byte ${position}`).toThrow(IntegrityError)
    }
  })

  it('a config from a newer plakar is refused with FormatTooNewError', () => {
    const bytes = serializeConfig(config(), mac)
    bytes[5] = 2
    expect(() => parseConfig(bytes)).toThrow(FormatTooNewError)
  })

  it('garbage, truncation and a config without its fields are IntegrityErrors', () => {
    const bytes = serializeConfig(config(), mac)
    expect(() => parseConfig(Buffer.from('not a config at all, clearly'))).toThrow(IntegrityError)
    expect(() => parseConfig(bytes.subarray(0, 20))).toThrow(IntegrityError)
    const empty = serializeConfig({} as RepositoryConfig, mac)
    expect(() => parseConfig(empty)).toThrow(/malformed/)
  })

  it('validates chunk sizes', () => {
    expect(() => validateChunking(DEFAULT_CHUNKING)).not.toThrow()
    expect(() => validateChunking({algorithm: 'fastcdc', min: 2048, avg: 8192, max: 65536})).not.toThrow()
    for (const bad of [
      {min: 8192, avg: 8192, max: 65536},
      {min: 2048, avg: 10_000, max: 65536},
      {min: 2048, avg: 8192, max: 4096},
      {min: 32, avg: 8192, max: 65536},
      {min: 2048, avg: 8192, max: 32 * 1024 * 1024},
    ]) {
      expect(() => validateChunking({algorithm: 'fastcdc', ...bad}), JSON.stringify(bad)).toThrow()
    }
  })
})

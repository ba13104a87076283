/**
 * Every decoder of stored bytes, fuzzed (issue 11): random bytes, mutations of valid encodings
 * (flipped, truncated, extended, spliced) and well-formed MessagePack of the wrong shape, sealed
 * with the right keys where the decoder authenticates first (what only a key holder, or a bug,
 * could write). Each decoder must return or throw a PlakarError (IntegrityError, exit 65, or
 * FormatTooNewError, exit 78): never a TypeError or RangeError from deep inside, never hang,
 * never allocate beyond its input's size. Runs are bounded (FUZZ_RUNS, default 150 per
 * property) so the suite stays fast; FUZZ_SEED replays a failure fast-check reported.
 */
import {randomBytes} from 'node:crypto'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {PlakarError} from '@plakar/sdk'
import {KeySet} from '../../src/crypto/keys.js'
import {Mac} from '../../src/crypto/mac.js'
import {decode, encode, envelopeHeader, EnvelopeType, type EnvelopeTypeValue} from '../../src/format/codec.js'
import {parseConfig, serializeConfig, type RepositoryConfig} from '../../src/format/config.js'
import {PACKFILE_VERSION, PackfileBuilder, readPackfileIndex} from '../../src/format/packfile.js'
import {decodeHeader, encodeHeader, SNAPSHOT_VERSION, type SnapshotHeader} from '../../src/format/snapshot.js'
import {emptyDelta, openState, sealState} from '../../src/format/state.js'
import {emptySummary} from '../../src/format/summary.js'
import {decodeNode, NODE_VERSION} from '../../src/tree/btree.js'
import {decodeEntry, encodeEntry} from '../../src/tree/entry.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 150)
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
const params = {numRuns: RUNS, ...(SEED === undefined ? {} : {seed: SEED})}
const keys = KeySet.fromMasterKey(randomBytes(32), randomBytes(32))

/** Decodes, and fails the property on anything but success or a PlakarError. */
function typedOnly(decode: () => unknown): void {
  try {
    decode()
  } catch (error) {
    if (error instanceof PlakarError) return
    throw new Error(`untyped error: ${(error as Error)?.stack ?? String(error)}`)
  }
}

/** Mutations of a valid encoding: flips, truncation, extension, a spliced run of random bytes. */
type Mutation = (b: Buffer) => Buffer

function mutated(valid: Uint8Array): fc.Arbitrary<Buffer> {
  const flip = fc.tuple(fc.nat(), fc.integer({min: 1, max: 255})).map(([at, xor]): Mutation => (b) => {
    if (b.length > 0) b[at % b.length] ^= xor
    return b
  })
  const cut = fc.nat().map((at): Mutation => (b) => b.subarray(0, at % (b.length + 1)))
  const extend = fc.uint8Array({maxLength: 64}).map((tail): Mutation => (b) => Buffer.concat([b, tail]))
  const splice = fc.tuple(fc.nat(), fc.uint8Array({minLength: 1, maxLength: 16})).map(([at, run]): Mutation => (b) => {
    const i = at % (b.length + 1)
    return Buffer.concat([b.subarray(0, i), run, b.subarray(i + run.length)])
  })
  return fc.array(fc.oneof(flip, flip, cut, extend, splice), {minLength: 1, maxLength: 4}).map((ops) => ops.reduce<Buffer>((b, op) => op(b), Buffer.from(valid)))
}

/** MessagePack values of any shape, bytes and huge or negative numbers included. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    {depthSize: 'small'},
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(2 ** 53, -1, 0, 2 ** 32),
    fc.string({maxLength: 20}),
    fc.uint8Array({maxLength: 40}).map((b) => Buffer.from(b)),
    fc.array(tie('value'), {maxLength: 5}),
    fc.dictionary(fc.constantFrom('id', 'kind', 'blobs', 'version', 'info', 'type', 'time', 'count', 'indexOffset', 'indexLength', 'packfiles', 'snapshots', 'host', 'x'), tie('value'), {maxKeys: 6}),
  ),
})).value

/** Raw MessagePack headers that claim far more than the input holds (memory bombs). */
const bombs = [
  Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 of 4 G elements
  Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), // map32 of 4 G pairs
  Buffer.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0]), // bin32 of 4 GiB
  Buffer.from([0xdb, 0x7f, 0xff, 0xff, 0xff]), // str32 of 2 GiB
  Buffer.from([0x93, 0x01, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xf0]), // a node claiming 4 G entries
]

/** Decodes a bomb and checks that the heap did not grow by more than a few MiB for it. */
function boundedMemory(decode: (bytes: Buffer) => unknown): void {
  for (const bomb of bombs) {
    const before = process.memoryUsage().heapUsed
    typedOnly(() => decode(bomb))
    expect(process.memoryUsage().heapUsed - before, `heap growth decoding ${bomb.toString('hex')}`).toBeLessThan(64 * 1024 * 1024)
  }
}

const header: SnapshotHeader = {
  version: SNAPSHOT_VERSION,
  id: randomBytes(32),
  time: 1_700_000_000_000,
  host: 'h',
  user: 'u',
  tags: ['t'],
  importer: {type: 'fs', origin: 'o', root: '/r'},
  command: ['backup'],
  trees: {vfs: randomBytes(32), names: randomBytes(32), types: randomBytes(32)},
  summary: emptySummary(),
  stats: {durationMs: 1, readBytes: 2, addedBytes: 3, addedBlobs: 4},
}

const config: RepositoryConfig = {
  version: 1,
  id: randomBytes(32),
  created: '2026-01-01T00:00:00Z',
  chunking: {algorithm: 'fastcdc', min: 1024, avg: 4096, max: 16384},
  packfile: {maxSize: 1 << 24},
  mac: 'blake3-keyed',
  compression: {algorithm: 'zstd', level: 3} as unknown as RepositoryConfig['compression'],
  encryption: {algorithm: 'aes-256-gcm-hmac-subkey', kdf: {algorithm: 'argon2id', salt: randomBytes(16), memory: 65536, iterations: 3, parallelism: 1}, wrappedKey: randomBytes(40), canary: randomBytes(32)},
}

function packfile(kind: 'data' | 'meta'): Buffer {
  const builder = new PackfileBuilder(keys, kind)
  for (let i = 0; i < 3; i++) builder.add(1 + i, randomBytes(32), randomBytes(50 + i), 80)
  return Buffer.concat(builder.finish().parts)
}

/** A packfile whose index (the plaintext `index`) and footer are sealed properly. */
function packfileAround(index: Buffer, footer?: Buffer): Buffer {
  const blobs = randomBytes(64)
  const indexHeader = envelopeHeader(EnvelopeType.PACK_INDEX, PACKFILE_VERSION)
  const sealedIndex = Buffer.concat([indexHeader, keys.sealer.seal(index, indexHeader)])
  let count = 0
  try {
    const rows = (decode<{blobs?: unknown}>(index) ?? {}).blobs
    if (Array.isArray(rows)) count = rows.length
  } catch {
    // Not MessagePack: the footer's count does not matter.
  }
  const footerHeader = envelopeHeader(EnvelopeType.PACK_FOOTER, PACKFILE_VERSION)
  const footerPlain = footer ?? encode({indexOffset: blobs.length, indexLength: sealedIndex.length, count})
  const sealedFooter = Buffer.concat([footerHeader, keys.sealer.seal(footerPlain, footerHeader)])
  const length = Buffer.alloc(4)
  length.writeUInt32BE(sealedFooter.length)
  return Buffer.concat([blobs, sealedIndex, sealedFooter, length])
}

/** header ‖ seal(plain, aad = header): an envelope around any plaintext. */
function envelopeAround(type: EnvelopeTypeValue, plain: Buffer): Buffer {
  const header = envelopeHeader(type, 1)
  return Buffer.concat([header, keys.sealer.seal(plain, header)])
}

const state = sealState(keys, {
  ...emptyDelta('host'),
  packfiles: [{id: 'ab'.repeat(32), kind: 'data', blobs: [[1, randomBytes(32), 0, 100, 250]]}],
  snapshots: [{id: randomBytes(32), header: randomBytes(32), time: 1}],
  supersedes: ['cd'.repeat(32)],
})

const leaf = encode([NODE_VERSION, 0, [[Buffer.from('\0a'), encodeEntry({info: {type: 'file', size: 3, mode: 0o644}, chunks: [[randomBytes(32), 3]]})], [Buffer.from('\0b'), Buffer.from([1])]]])
const inner = encode([NODE_VERSION, 1, [[Buffer.alloc(0), randomBytes(32)], [Buffer.from('\0m'), randomBytes(32)]]])
const entry = encodeEntry({info: {type: 'file', size: 10, mode: 0o600, mtime: 5}, chunks: [[randomBytes(32), 10]]})

interface Decoder {
  name: string
  decode: (bytes: Buffer) => unknown
  valid: Buffer[]
  /** Stored bytes around a MessagePack plaintext (sealed where the decoder authenticates). */
  raw?: (plain: Buffer) => Buffer
}

const configMac = new Mac(randomBytes(32))
const decoders: Decoder[] = [
  {name: 'config', decode: parseConfig, valid: [serializeConfig(config, configMac), serializeConfig({...config, encryption: null}, configMac)], raw: (p) => Buffer.concat([envelopeHeader(EnvelopeType.CONFIG, 1), p, randomBytes(32)])},
  {name: 'state', decode: (b) => openState(keys, keys.objectMac.digest(b).toString('hex'), b), valid: [state.bytes], raw: (p) => envelopeAround(EnvelopeType.STATE, p)},
  {name: 'packfile index', decode: (b) => readPackfileIndex(keys, b), valid: [packfile('data'), packfile('meta')], raw: (p) => packfileAround(p)},
  {name: 'packfile footer', decode: (b) => readPackfileIndex(keys, b), valid: [], raw: (p) => packfileAround(encode({kind: 'data', blobs: []}), p)},
  {name: 'B+tree node', decode: (b) => decodeNode(b, 'fuzz'), valid: [leaf, inner], raw: (p) => p},
  {name: 'snapshot header', decode: decodeHeader, valid: [encodeHeader(header), encodeHeader({...header, parent: randomBytes(32), name: 'n'})], raw: (p) => p},
  {name: 'entry', decode: decodeEntry, valid: [entry, encodeEntry({info: {type: 'directory', size: 0}})], raw: (p) => p},
]

describe('decoders, fuzzed: typed errors only, no hang, bounded memory', () => {
  for (const d of decoders) {
    describe(d.name, () => {
      it('valid encodings decode', () => {
        for (const bytes of d.valid) expect(() => d.decode(bytes)).not.toThrow()
      })

      it('random bytes', () => {
        fc.assert(
          fc.property(fc.uint8Array({maxLength: 2048}), (bytes) => typedOnly(() => d.decode(Buffer.from(bytes)))),
          params,
        )
      })

      if (d.valid.length > 0) {
        it('mutations of valid encodings', () => {
          fc.assert(
            fc.property(
              fc.constantFrom(...d.valid).chain((valid) => mutated(valid)),
              (bytes) => typedOnly(() => d.decode(bytes)),
            ),
            params,
          )
        })
      }

      if (d.raw) {
        it('well-formed MessagePack of any shape (authenticated where the decoder checks)', () => {
          fc.assert(
            fc.property(anyValue, (value) => typedOnly(() => d.decode(d.raw!(encode(value))))),
            params,
          )
        })
      }

      it('length prefixes that claim gigabytes', () => {
        boundedMemory(d.decode)
        if (d.raw) boundedMemory((bomb) => d.decode(d.raw!(bomb)))
      })
    })
  }
})

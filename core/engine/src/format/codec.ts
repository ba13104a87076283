import {Packr} from 'msgpackr'
import {FormatTooNewError, IntegrityError} from '@plakar/sdk'
import type {Sealer} from '../crypto/seal.js'

/**
 * Serialisation of every stored structure: MessagePack (msgpackr, the fastest well-kept
 * implementation for Node) with records disabled, so that equal values always encode to equal
 * bytes (tree nodes are content-addressed) and other implementations can read them.
 */
const packr = new Packr({useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true})

export function encode(value: unknown): Buffer {
  return packr.pack(value)
}

export function decode<T>(bytes: Uint8Array): T {
  try {
    return packr.unpack(bytes) as T
  } catch (error) {
    throw new IntegrityError('malformed structure: it cannot be decoded', {cause: error})
  }
}

/** Magic at the start of every enveloped structure. */
export const MAGIC = Buffer.from('PLKR')
export const HEADER_LENGTH = 8

/** Types of enveloped structures; blob types live in blob-type.ts. */
export const EnvelopeType = {
  CONFIG: 1,
  PACK_INDEX: 2,
  PACK_FOOTER: 3,
  STATE: 4,
  LOCK: 5,
} as const
export type EnvelopeTypeValue = (typeof EnvelopeType)[keyof typeof EnvelopeType]

const ENVELOPE_NAMES: Record<number, string> = {1: 'config', 2: 'packfile index', 3: 'packfile footer', 4: 'state', 5: 'lock'}

export function envelopeHeader(type: EnvelopeTypeValue, version: number): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH)
  MAGIC.copy(header, 0)
  header[4] = type
  header[5] = version
  return header
}

/**
 * Checks magic, type and version of an enveloped structure. A version newer than `supported`
 * is refused with exit code 78; older versions are accepted (readers keep their decoders).
 */
export function checkHeader(bytes: Uint8Array, type: EnvelopeTypeValue, supported: number, what?: string): number {
  const name = what ?? ENVELOPE_NAMES[type]
  if (bytes.length < HEADER_LENGTH || !MAGIC.equals(Buffer.from(bytes.subarray(0, 4)))) {
    throw new IntegrityError(`${name} is not a plakar structure (bad magic)`)
  }
  if (bytes[4] !== type) throw new IntegrityError(`${name} has type ${bytes[4]}, expected ${type}`)
  const version = bytes[5]
  if (version > supported) {
    throw new FormatTooNewError(
      `${name} uses format version ${version} but this plakar reads up to ${supported}: upgrade plakar`,
    )
  }
  if (version === 0) throw new IntegrityError(`${name} has format version 0`)
  return version
}

/** header ‖ seal(msgpack(value), aad = header ‖ context). */
export function sealEnvelope(
  sealer: Sealer,
  type: EnvelopeTypeValue,
  version: number,
  value: unknown,
  context: Uint8Array = Buffer.alloc(0),
): Buffer {
  const header = envelopeHeader(type, version)
  return Buffer.concat([header, sealer.seal(encode(value), Buffer.concat([header, context]))])
}

export function openEnvelope<T>(
  sealer: Sealer,
  bytes: Uint8Array,
  type: EnvelopeTypeValue,
  supported: number,
  context: Uint8Array = Buffer.alloc(0),
  what?: string,
): {version: number; value: T} {
  const version = checkHeader(bytes, type, supported, what)
  const header = Buffer.from(bytes.subarray(0, HEADER_LENGTH))
  let plain: Buffer
  try {
    plain = sealer.open(bytes.subarray(HEADER_LENGTH), Buffer.concat([header, context]))
  } catch (error) {
    throw new IntegrityError(`${what ?? ENVELOPE_NAMES[type]} failed authentication: it is corrupted`, {cause: error})
  }
  return {version, value: decode<T>(plain)}
}

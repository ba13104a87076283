import {FormatTooNewError, IntegrityError} from '@plakar/sdk'
import type {KeySet} from '../crypto/keys.js'
import {BLOB_TYPE_NAMES} from './blob-type.js'
import type {Compressor} from './compression.js'

/**
 * A blob as stored in a packfile: seal(version ‖ codec ‖ payload, aad = type ‖ mac), where
 * mac = keyed BLAKE3 of the plaintext and payload is the plaintext, compressed or not.
 */
export const BLOB_VERSION = 1
/** Bytes before the payload: the version and the codec. */
export const BLOB_FRAMING = 2

export function blobAad(type: number, mac: Uint8Array): Buffer {
  const aad = Buffer.allocUnsafe(1 + mac.length)
  aad[0] = type
  aad.set(mac, 1)
  return aad
}

export function sealBlob(keys: KeySet, compressor: Compressor, type: number, mac: Uint8Array, plaintext: Uint8Array): Buffer {
  const {codec, bytes} = compressor.compress(plaintext)
  const framed = Buffer.allocUnsafe(BLOB_FRAMING + bytes.length)
  framed[0] = BLOB_VERSION
  framed[1] = codec
  framed.set(bytes, BLOB_FRAMING)
  return keys.sealer.seal(framed, blobAad(type, mac))
}

/**
 * Opens, decompresses and re-MACs a blob: anything but the exact original plaintext throws.
 * `transient`: the plaintext is only looked at until the next call (see Compressor.decompress).
 */
export function openBlob(keys: KeySet, compressor: Compressor, type: number, mac: Uint8Array, sealed: Uint8Array, transient = false): Buffer {
  const name = BLOB_TYPE_NAMES[type] ?? `type ${type}`
  let framed: Buffer
  try {
    framed = keys.sealer.open(sealed, blobAad(type, mac))
  } catch (error) {
    throw new IntegrityError(`${name} ${Buffer.from(mac).toString('hex').slice(0, 16)} is corrupted`, {cause: error})
  }
  if (framed[0] > BLOB_VERSION) {
    throw new FormatTooNewError(`${name} uses blob format version ${framed[0]} but this plakar reads up to ${BLOB_VERSION}: upgrade plakar`)
  }
  if (framed[0] !== BLOB_VERSION) throw new IntegrityError(`${name} has unknown blob version ${framed[0]}`)
  let plaintext: Buffer
  try {
    plaintext = compressor.decompress(framed[1], framed.subarray(BLOB_FRAMING), transient)
  } catch (error) {
    throw new IntegrityError(`${name} ${Buffer.from(mac).toString('hex').slice(0, 16)} does not decompress`, {cause: error})
  }
  if (!keys.blobMac.digest(plaintext).equals(mac)) {
    throw new IntegrityError(`${name} ${Buffer.from(mac).toString('hex').slice(0, 16)} does not match its MAC`)
  }
  return plaintext
}

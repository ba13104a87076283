import {IntegrityError} from '@plakar/sdk'
import type {KeySet} from '../crypto/keys.js'
import {EnvelopeType, openEnvelope, sealEnvelope} from './codec.js'

/**
 * Packfile layout (docs/format.md):
 *   blob₀ ‖ blob₁ ‖ … ‖ index ‖ footer ‖ footerLength(u32 BE)
 * index  = envelope(PACK_INDEX, {kind, blobs: [[type, mac, offset, length, rawLength]…]})
 * footer = envelope(PACK_FOOTER, {indexOffset, indexLength, count})
 * Both are sealed, so the storage learns neither the blob boundaries nor their ids. The packfile
 * id is the keyed MAC of all its bytes. Data (chunks) and metadata go to different packfiles.
 */
export const PACKFILE_VERSION = 1

export type PackKind = 'data' | 'meta'

export interface PackedBlob {
  type: number
  mac: Buffer
  offset: number
  length: number
  rawLength: number
}

type IndexRow = [number, Buffer, number, number, number]

export interface FinishedPackfile {
  id: string
  kind: PackKind
  parts: Buffer[]
  size: number
  blobs: PackedBlob[]
}

export class PackfileBuilder {
  readonly kind: PackKind
  readonly blobs: PackedBlob[] = []
  readonly #parts: Buffer[] = []
  readonly #keys: KeySet
  #size = 0

  constructor(keys: KeySet, kind: PackKind) {
    this.#keys = keys
    this.kind = kind
  }

  get size(): number {
    return this.#size
  }

  add(type: number, mac: Buffer, sealed: Buffer, rawLength: number): void {
    this.blobs.push({type, mac, offset: this.#size, length: sealed.length, rawLength})
    this.#parts.push(sealed)
    this.#size += sealed.length
  }

  finish(): FinishedPackfile {
    const rows: IndexRow[] = this.blobs.map((b) => [b.type, b.mac, b.offset, b.length, b.rawLength])
    const index = sealEnvelope(this.#keys.sealer, EnvelopeType.PACK_INDEX, PACKFILE_VERSION, {kind: this.kind, blobs: rows})
    const footer = sealEnvelope(this.#keys.sealer, EnvelopeType.PACK_FOOTER, PACKFILE_VERSION, {
      indexOffset: this.#size,
      indexLength: index.length,
      count: rows.length,
    })
    const trailer = Buffer.alloc(4)
    trailer.writeUInt32BE(footer.length)
    const parts = [...this.#parts, index, footer, trailer]
    const mac = this.#keys.objectMac.stream()
    for (const part of parts) mac.update(part)
    const size = this.#size + index.length + footer.length + 4
    return {id: mac.digest().toString('hex'), kind: this.kind, parts, size, blobs: this.blobs}
  }
}

interface Footer {
  indexOffset: number
  indexLength: number
  count: number
}

/** Reads the index of a whole packfile held in memory (check, recovery). */
export function readPackfileIndex(keys: KeySet, bytes: Buffer): {kind: PackKind; blobs: PackedBlob[]} {
  if (bytes.length < 4) throw new IntegrityError('packfile is truncated')
  const footerLength = bytes.readUInt32BE(bytes.length - 4)
  const footerStart = bytes.length - 4 - footerLength
  if (footerLength > 4096 || footerStart < 0) throw new IntegrityError('packfile footer is damaged')
  const {value: footer} = openEnvelope<Footer>(
    keys.sealer,
    bytes.subarray(footerStart, bytes.length - 4),
    EnvelopeType.PACK_FOOTER,
    PACKFILE_VERSION,
  )
  if (footer.indexOffset + footer.indexLength !== footerStart) throw new IntegrityError('packfile footer is inconsistent')
  const {value: index} = openEnvelope<{kind: PackKind; blobs: IndexRow[]}>(
    keys.sealer,
    bytes.subarray(footer.indexOffset, footerStart),
    EnvelopeType.PACK_INDEX,
    PACKFILE_VERSION,
  )
  if (index.blobs.length !== footer.count) throw new IntegrityError('packfile index is inconsistent')
  return {
    kind: index.kind,
    blobs: index.blobs.map(([type, mac, offset, length, rawLength]) => ({type, mac: Buffer.from(mac), offset, length, rawLength})),
  }
}

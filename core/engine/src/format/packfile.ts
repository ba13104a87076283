import {randomBytes} from 'node:crypto'
import {closeSync, openSync, unlinkSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {IntegrityError} from '@plakar/sdk'
import type {KeySet} from '../crypto/keys.js'
import {Shape} from './shape.js'
import {buildParity} from './parity.js'
import {EnvelopeType, openEnvelope, sealEnvelope} from './codec.js'

/**
 * Packfile layout (docs/format.md):
 *   blob₀ ‖ blob₁ ‖ … ‖ [parity] ‖ index ‖ footer ‖ footerLength(u32 BE)
 * index  = envelope(PACK_INDEX, {kind, blobs: [[type, mac, offset, length, rawLength]…], parity?: {offset, length}})
 * parity = error-correcting parity of the blobs (parity.ts), in metadata packfiles only
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
  /** The packfile's bytes in order; when `spilled` is set, what follows that file's bytes. */
  parts: Buffer[]
  /** A temporary file holding the blobs' bytes (PackfileBuilder's `spillDir`); its owner removes it. */
  spilled?: string
  size: number
  blobs: PackedBlob[]
}

/**
 * The blobs of a packfile being filled, written to a temporary file as they come instead of
 * held: each sealed chunk is freed once copied, so what a backup holds no longer grows with the
 * packfiles being filled and stored (their chunks stayed in the chunking workers' allocator
 * arenas until the packfile was stored: about 25 MiB of a backup's peak). Writes go in 1 MiB
 * batches, to the page cache.
 */
class SpillFile {
  readonly path: string
  readonly #fd: number
  /** Sees every byte written, in order, as it goes to the file (the packfile's MAC). */
  readonly #onWrite: (bytes: Uint8Array) => void
  #buffer: Buffer | undefined = Buffer.allocUnsafeSlow(1 << 20)
  #fill = 0

  constructor(dir: string, onWrite: (bytes: Uint8Array) => void) {
    this.path = join(dir, `packfile-${randomBytes(8).toString('hex')}`)
    this.#fd = openSync(this.path, 'wx', 0o600)
    this.#onWrite = onWrite
  }

  write(bytes: Uint8Array): void {
    const buffer = this.#buffer!
    if (this.#fill + bytes.length > buffer.length) this.#flush()
    if (bytes.length >= buffer.length) this.#writeAll(bytes)
    else {
      buffer.set(bytes, this.#fill)
      this.#fill += bytes.length
    }
  }

  /** Writes what is batched and closes the file, which stays for the upload. */
  close(): void {
    if (!this.#buffer) return
    try {
      this.#flush()
    } finally {
      this.#buffer = undefined
      closeSync(this.#fd)
    }
  }

  /** Closes and removes the file: its packfile will not be stored. */
  discard(): void {
    try {
      this.#buffer = undefined
      closeSync(this.#fd)
    } catch {
      // Closed already.
    }
    removeSpilled(this.path)
  }

  #flush(): void {
    if (this.#fill === 0) return
    this.#writeAll(this.#buffer!.subarray(0, this.#fill))
    this.#fill = 0
  }

  #writeAll(bytes: Uint8Array): void {
    this.#onWrite(bytes)
    for (let at = 0; at < bytes.length; ) at += writeSync(this.#fd, bytes, at, bytes.length - at)
  }
}

/**
 * Removes a spilled packfile's file. A failure is not the backup's: the file lies in the backup's
 * staging directory, which is removed when the backup ends (or, after a crash, by the next one).
 */
export function removeSpilled(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // Left to the staging directory's removal.
  }
}

export class PackfileBuilder {
  readonly kind: PackKind
  readonly blobs: PackedBlob[] = []
  readonly #parts: Buffer[] = []
  readonly #keys: KeySet
  readonly #parity: boolean
  readonly #spillDir: string | undefined
  #spill: SpillFile | undefined
  /** The packfile id: the MAC of its bytes, taken as they come. */
  readonly #mac: ReturnType<KeySet['objectMac']['stream']>
  #size = 0

  /**
   * `parity`: whether a metadata packfile gets its parity section (the repository's config).
   * `spillDir`: a data packfile's blobs are written to a file there as they come (SpillFile);
   * metadata packfiles stay in memory (their parity is computed over all their blobs).
   */
  constructor(keys: KeySet, kind: PackKind, options: {parity?: boolean; spillDir?: string} = {}) {
    this.#keys = keys
    this.kind = kind
    this.#parity = options.parity ?? true
    this.#spillDir = kind === 'data' ? options.spillDir : undefined
    this.#mac = keys.objectMac.stream()
  }

  get size(): number {
    return this.#size
  }

  add(type: number, mac: Buffer, sealed: Buffer, rawLength: number): void {
    if (this.#spillDir !== undefined) {
      // MACed as the file is written, 1 MiB at a time: one call per blob of a few KiB cost
      // more than the hashing (BLAKE3 hashes large inputs many chunks at once).
      this.#spill ??= new SpillFile(this.#spillDir, (bytes) => this.#mac.update(bytes))
      this.#spill.write(sealed)
    } else {
      this.#parts.push(sealed)
      this.#mac.update(sealed)
    }
    this.blobs.push({type, mac, offset: this.#size, length: sealed.length, rawLength})
    this.#size += sealed.length
  }

  /** Drops what was added (the writer failed): removes the spilled file, if any. */
  discard(): void {
    this.#spill?.discard()
    this.#spill = undefined
    this.#parts.length = 0
  }

  finish(): FinishedPackfile {
    // The blobs' last bytes reach the file, and so the MAC, before what follows them.
    if (this.#spill) {
      try {
        this.#spill.close()
      } catch (error) {
        this.#spill.discard()
        throw error
      }
    }
    const rows: IndexRow[] = this.blobs.map((b) => [b.type, b.mac, b.offset, b.length, b.rawLength])
    // Metadata is small and everything hangs on it: it carries parity (file content does not).
    const parity = this.#parity && this.kind === 'meta' && this.#size > 0 ? buildParity(Buffer.concat(this.#parts)) : undefined
    const indexValue: IndexValue = {kind: this.kind, blobs: rows}
    if (parity) indexValue.parity = {offset: this.#size, length: parity.length}
    const index = sealEnvelope(this.#keys.sealer, EnvelopeType.PACK_INDEX, PACKFILE_VERSION, indexValue)
    const indexOffset = this.#size + (parity?.length ?? 0)
    const footer = sealEnvelope(this.#keys.sealer, EnvelopeType.PACK_FOOTER, PACKFILE_VERSION, {
      indexOffset,
      indexLength: index.length,
      count: rows.length,
    })
    const trailer = Buffer.alloc(4)
    trailer.writeUInt32BE(footer.length)
    const after = [...(parity ? [parity] : []), index, footer, trailer]
    for (const part of after) this.#mac.update(part)
    const size = indexOffset + index.length + footer.length + 4
    const id = this.#mac.digest().toString('hex')
    if (this.#spill) return {id, kind: this.kind, parts: after, spilled: this.#spill.path, size, blobs: this.blobs}
    return {id, kind: this.kind, parts: [...this.#parts, ...after], size, blobs: this.blobs}
  }
}

interface IndexValue {
  kind: PackKind
  blobs: IndexRow[]
  /** Where the parity section is (metadata packfiles written since parity exists). */
  parity?: {offset: number; length: number}
}

export interface Footer {
  indexOffset: number
  indexLength: number
  count: number
}

/** The footer of a packfile from its sealed bytes (without the 4-byte length after it). */
export function openFooter(keys: KeySet, bytes: Uint8Array): Footer {
  const {value} = openEnvelope<unknown>(keys.sealer, bytes, EnvelopeType.PACK_FOOTER, PACKFILE_VERSION)
  const fs = new Shape('packfile footer')
  const f = fs.record(value, 'the footer')
  return {indexOffset: fs.count(f.indexOffset, 'indexOffset'), indexLength: fs.count(f.indexLength, 'indexLength'), count: fs.count(f.count, 'count')}
}

/** Where a packfile's parity section is, from its sealed index; undefined when it has none. */
export function parityOf(keys: KeySet, indexBytes: Uint8Array, footer: Footer): {offset: number; length: number} | undefined {
  const {value} = openEnvelope<unknown>(keys.sealer, indexBytes, EnvelopeType.PACK_INDEX, PACKFILE_VERSION)
  const is = new Shape('packfile index')
  const parity = is.record(value, 'the index').parity
  if (parity === undefined || parity === null) return undefined
  const p = is.record(parity, 'parity')
  const at = {offset: is.count(p.offset, 'parity offset'), length: is.count(p.length, 'parity length')}
  if (at.offset + at.length !== footer.indexOffset) is.fail('the parity section does not end where the index starts')
  return at
}

/** Reads the index of a whole packfile held in memory (check, recovery). */
export function readPackfileIndex(keys: KeySet, bytes: Buffer): {kind: PackKind; blobs: PackedBlob[]} {
  if (bytes.length < 4) throw new IntegrityError('packfile is truncated')
  const footerLength = bytes.readUInt32BE(bytes.length - 4)
  const footerStart = bytes.length - 4 - footerLength
  if (footerLength > 4096 || footerStart < 0) throw new IntegrityError('packfile footer is damaged')
  const footer = openFooter(keys, bytes.subarray(footerStart, bytes.length - 4))
  if (footer.indexOffset + footer.indexLength !== footerStart) throw new IntegrityError('packfile footer is inconsistent')
  const {value: indexValue} = openEnvelope<{kind: PackKind; blobs: IndexRow[]}>(
    keys.sealer,
    bytes.subarray(footer.indexOffset, footerStart),
    EnvelopeType.PACK_INDEX,
    PACKFILE_VERSION,
  )
  const is = new Shape('packfile index')
  const index = is.record(indexValue, 'the index')
  if (index.kind !== 'data' && index.kind !== 'meta') is.fail('kind is neither data nor meta')
  const rows = is.list(index.blobs, 'blobs')
  if (rows.length !== footer.count) throw new IntegrityError('packfile index is inconsistent')
  return {
    kind: index.kind as PackKind,
    blobs: rows.map((value) => {
      const row = is.list(value, 'a blob row')
      const blob = {
        type: is.count(row[0], 'a blob type'),
        mac: Buffer.from(is.bytes(row[1], 'a blob id', 32)),
        offset: is.count(row[2], 'a blob offset'),
        length: is.count(row[3], 'a blob length'),
        rawLength: is.count(row[4], 'a blob raw length'),
      }
      if (blob.offset + blob.length > footer.indexOffset) is.fail('a blob lies past the blobs')
      return blob
    }),
  }
}

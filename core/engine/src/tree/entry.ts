import {type EntryType, type FileInfo, FormatTooNewError, IntegrityError} from '@plakar/sdk'
import {decode, encode} from '../format/codec.js'
import {Shape} from '../format/shape.js'
import {emptySummary, type Summary} from '../format/summary.js'

/** One chunk of a file's content: its MAC and plaintext length. */
export type ChunkRef = [Buffer, number]

/**
 * A snapshot entry (the value stored in the file tree under its path key).
 * Files keep their chunk list inline up to INLINE_CHUNKS chunks, else in an OBJECT blob.
 */
export interface Entry {
  info: FileInfo
  target?: string
  chunks?: ChunkRef[]
  object?: Buffer
  /** Why the entry could not be read; such entries have no content. */
  error?: string
  xattrs?: Buffer
  /** Directories: direct children and everything below. */
  summary?: {direct: Summary; below: Summary}
}

export const INLINE_CHUNKS = 32

/**
 * Version 2 dropped version 1's `contentMac` (a keyed MAC over the chunk ids): the chunk list,
 * or the id of the object blob holding it, already names the content, and those 32 random
 * bytes per file were about 40 % of a small file's compressed tree entry (docs/format.md §9.4).
 */
export const ENTRY_VERSION = 2

/**
 * Entries are content-addressed through the tree nodes that hold them, so equal entries must
 * encode to equal bytes however they were built (read fresh, or copied from the parent
 * snapshot): fields go in one fixed order, object keys sorted, undefined fields left out.
 * Without this, an unchanged re-backup of 300k files stored 25 MB of new tree nodes.
 */
export function encodeEntry(entry: Entry): Buffer {
  return encode([ENTRY_VERSION, canonical(entry)])
}

const ENTRY_FIELDS = ['info', 'target', 'chunks', 'object', 'error', 'xattrs', 'summary'] as const

function canonical(entry: Entry): Entry {
  const out: Record<string, unknown> = {}
  for (const field of ENTRY_FIELDS) {
    const value = entry[field]
    if (value === undefined) continue
    out[field] = field === 'info' || field === 'summary' ? sortedKeys(value as object) : value
  }
  return out as unknown as Entry
}

/** A plain object (nested plain objects too) with its keys sorted and undefined values dropped. */
function sortedKeys(value: object): object {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key]
    if (v === undefined) continue
    out[key] = v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? sortedKeys(v) : v
  }
  return out
}

export function decodeEntry(bytes: Uint8Array): Entry {
  const s = new Shape('a snapshot entry')
  const pair = s.list(decode<unknown>(bytes), 'the entry')
  if (pair.length !== 2) s.fail('it is not [version, entry]')
  const version = s.count(pair[0], 'version')
  const entry = pair[1] as Entry
  if (version > ENTRY_VERSION) throw new FormatTooNewError(`a snapshot entry uses format version ${version} but this plakar reads up to ${ENTRY_VERSION}: upgrade plakar`)
  if (version < 1) throw new IntegrityError(`a snapshot entry has unknown version ${version}`)
  s.record(entry, 'the entry')
  // Version 1's contentMac says nothing the chunk list does not (see ENTRY_VERSION).
  if (version === 1) delete (entry as {contentMac?: unknown}).contentMac
  const info = s.record(entry.info, 'info')
  s.string(info.type, 'type')
  s.number(info.size, 'size')
  if (entry.chunks !== undefined && entry.chunks !== null) {
    for (const c of s.list(entry.chunks, 'chunks')) {
      const ref = s.list(c, 'a chunk')
      s.bytes(ref[0], 'a chunk id', 32)
      s.count(ref[1], 'a chunk length')
    }
  }
  if (entry.object !== undefined && entry.object !== null) s.bytes(entry.object, 'object', 32)
  if (entry.target !== undefined && entry.target !== null) s.string(entry.target, 'target')
  return entry
}

/**
 * Whether two file entries of one repository hold the same bytes. Chunk ids are keyed MACs of
 * the chunks' plaintext and the chunker is keyed per repository, so equal content is cut into
 * the same chunks: the same inline chunk list, or (more than INLINE_CHUNKS chunks) the same
 * object blob, whose id is the MAC of that list. An entry that could not be read has no content.
 */
export function sameContent(a: Entry, b: Entry): boolean {
  if (a.error !== undefined || b.error !== undefined) return false
  if (a.object || b.object) return !!a.object && !!b.object && Buffer.from(a.object).equals(Buffer.from(b.object))
  const ca = a.chunks ?? []
  const cb = b.chunks ?? []
  if (ca.length !== cb.length) return false
  for (let i = 0; i < ca.length; i++) if (!Buffer.from(ca[i][0]).equals(Buffer.from(cb[i][0]))) return false
  return true
}

/** For entries that were read (no `error`): a string equal for two exactly when sameContent holds (map keys, ETags). */
export function contentKey(entry: Entry): string {
  if (entry.error !== undefined) return `error:${entry.error}`
  if (entry.object) return `object:${Buffer.from(entry.object).toString('hex')}`
  return `chunks:${(entry.chunks ?? []).map(([id]) => Buffer.from(id).toString('hex')).join('')}`
}

export function typeCategory(contentType: string | undefined): string {
  if (!contentType) return 'unknown'
  return contentType.split('/')[0] || 'unknown'
}

/** Contribution of one entry to its parent's summary. */
export function contribution(type: EntryType, size: number, contentType: string | undefined, error: boolean): Summary {
  const s = emptySummary()
  if (error) s.errors = 1
  else if (type === 'file') {
    s.files = 1
    s.size = size
    s.types[typeCategory(contentType)] = 1
  } else if (type === 'directory') s.directories = 1
  else if (type === 'symlink') s.symlinks = 1
  else s.others = 1
  return s
}

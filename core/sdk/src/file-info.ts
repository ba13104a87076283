import type {Stats} from 'node:fs'
import {Readable} from 'node:stream'
import type {EntryType, FileInfo} from './interfaces/file-info.js'
import type {ImportRecord} from './interfaces/importer.js'

/**
 * FileInfo builders for connector authors. Each returns a plain object (the contract is
 * structural): fill in what the source knows, leave out what it does not.
 */

/** The entry type of an `lstat`/`stat` result (or an SFTP/`ssh2` attrs object with the same predicates). */
export function entryTypeOf(stats: Pick<Stats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isBlockDevice' | 'isCharacterDevice' | 'isFIFO' | 'isSocket'>): EntryType {
  if (stats.isFile()) return 'file'
  if (stats.isDirectory()) return 'directory'
  if (stats.isSymbolicLink()) return 'symlink'
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'device'
  if (stats.isFIFO()) return 'pipe'
  if (stats.isSocket()) return 'socket'
  return 'unknown'
}

/**
 * A FileInfo from `fs.lstat` (or `stat`): type, size (0 unless a regular file), permission bits,
 * times in milliseconds (with their sub-millisecond fraction), owner, device and inode (what an
 * incremental backup compares). User and group names are not looked up: add them if you know them.
 */
export function fileInfoFromStats(stats: Stats): FileInfo {
  const type = entryTypeOf(stats)
  const info: FileInfo = {
    type,
    size: type === 'file' ? stats.size : 0,
    mode: stats.mode & 0o7777,
    mtime: stats.mtimeMs,
    atime: stats.atimeMs,
    ctime: stats.ctimeMs,
    uid: stats.uid,
    gid: stats.gid,
    dev: stats.dev,
    ino: stats.ino,
    nlink: stats.nlink,
  }
  if (type === 'device') info.rdev = stats.rdev
  return info
}

/** What an object store tells about an object (S3 HeadObject/ListObjects, GCS, Azure, an HTTP HEAD…). */
export interface ObjectHead {
  size: number
  /** Last-Modified: a Date, an HTTP date or ISO string, or milliseconds since the epoch. */
  lastModified?: Date | string | number
  /** ETag or any version token: becomes the FileInfo `fingerprint` (quotes are removed). */
  etag?: string
  contentType?: string
  /** User metadata, kept verbatim. */
  metadata?: Record<string, string>
  /** Permission bits to report (object stores have none; default: leave them out). */
  mode?: number
}

/** Milliseconds since the epoch of a Date, a date string or a number; undefined when unparsable. */
export function toMillis(time: Date | string | number | undefined): number | undefined {
  if (time === undefined) return undefined
  const ms = time instanceof Date ? time.getTime() : typeof time === 'number' ? time : Date.parse(time)
  return Number.isFinite(ms) ? ms : undefined
}

/** A FileInfo for an object of an object store (a regular file: objects have no other type). */
export function fileInfoFromObject(head: ObjectHead): FileInfo {
  if (!Number.isSafeInteger(head.size) || head.size < 0) throw new RangeError(`invalid object size ${String(head.size)}`)
  const info: FileInfo = {type: 'file', size: head.size}
  const mtime = toMillis(head.lastModified)
  if (mtime !== undefined) info.mtime = mtime
  if (head.mode !== undefined) info.mode = head.mode
  if (head.etag) info.fingerprint = head.etag.replace(/^(W\/)?"(.*)"$/, '$1$2')
  if (head.contentType) info.contentType = head.contentType
  if (head.metadata && Object.keys(head.metadata).length > 0) info.metadata = {...head.metadata}
  return info
}

/** A FileInfo for a directory (or a prefix, a table, a folder of an API). */
export function directoryInfo(options: {mtime?: Date | string | number; mode?: number} = {}): FileInfo {
  const info: FileInfo = {type: 'directory', size: 0}
  const mtime = toMillis(options.mtime)
  if (mtime !== undefined) info.mtime = mtime
  if (options.mode !== undefined) info.mode = options.mode
  return info
}

/**
 * An import record for a regular file whose content is already in memory (a JSON document of an
 * API, a row rendered as text). `info` may add times, a mode or a fingerprint; type and size are
 * set from the content.
 */
export function bufferRecord(path: string, content: Uint8Array | string, info: Partial<FileInfo> = {}): ImportRecord {
  const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  return {
    path,
    info: {...info, type: 'file', size: bytes.length},
    open: async () => Readable.from(bytes.length > 0 ? [bytes] : [], {objectMode: false}),
  }
}

/**
 * An import record for a regular file whose content is streamed from the source when the engine
 * asks for it (at most once per backup). `info.size` must be the exact size of what `open` yields.
 */
export function streamRecord(path: string, info: FileInfo, open: () => Promise<Readable>): ImportRecord {
  if (info.type !== 'file') throw new TypeError(`streamRecord(${JSON.stringify(path)}) needs a FileInfo of type "file"`)
  return {path, info, open}
}

/** An import record for a directory. */
export function directoryRecord(path: string, info: FileInfo = directoryInfo()): ImportRecord {
  return {path, info: {...info, type: 'directory', size: 0}}
}

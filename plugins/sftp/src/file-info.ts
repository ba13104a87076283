import type {EntryType, FileInfo} from '@plakar/sdk'
import type {Attributes} from 'ssh2'

const S_IFMT = 0o170000
const TYPES: Record<number, EntryType> = {
  0o100000: 'file',
  0o040000: 'directory',
  0o120000: 'symlink',
  0o060000: 'device',
  0o020000: 'device',
  0o010000: 'pipe',
  0o140000: 'socket',
}

/**
 * FileInfo from SFTP v3 attributes: type and permission bits, size, uid/gid, and atime/mtime to
 * the second (all the protocol carries: no ctime, inode or link count).
 */
export function fileInfo(attrs: Attributes): FileInfo {
  const mode = attrs.mode ?? 0
  const type: EntryType = TYPES[mode & S_IFMT] ?? 'unknown'
  const info: FileInfo = {type, size: type === 'file' ? (attrs.size ?? 0) : 0, mode: mode & 0o7777}
  if (typeof attrs.mtime === 'number') info.mtime = attrs.mtime * 1000
  if (typeof attrs.atime === 'number') info.atime = attrs.atime * 1000
  if (typeof attrs.uid === 'number') info.uid = attrs.uid
  if (typeof attrs.gid === 'number') info.gid = attrs.gid
  return info
}

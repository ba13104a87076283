/** What a connector knows about one entry of a data source. Only `type` is required. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'device' | 'pipe' | 'socket' | 'unknown'

export interface FileInfo {
  type: EntryType
  /** Size of the content in bytes (0 for anything but regular files). */
  size: number
  /** Permission bits (0o7777), without the file-type bits. */
  mode?: number
  /** Modification time, milliseconds since the epoch, with sub-millisecond fraction when known. */
  mtime?: number
  atime?: number
  ctime?: number
  uid?: number
  gid?: number
  username?: string
  groupname?: string
  /** Device and inode: hard-link detection and incremental backups. */
  dev?: number
  ino?: number
  nlink?: number
  /** Device number for device nodes. */
  rdev?: number
  /** MIME type when the source knows it (an S3 object's Content-Type). */
  contentType?: string
  /** Source-specific metadata kept verbatim (an S3 object's user metadata). */
  metadata?: Record<string, string>
  /**
   * Opaque change token (an S3 ETag, a database row version). When the source provides it,
   * an incremental backup treats the entry as unchanged only if the token matches too.
   */
  fingerprint?: string
}

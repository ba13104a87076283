/**
 * Types of blobs inside packfiles. A blob's type and MAC are bound into its seal, and data
 * blobs (chunks) go to data packfiles while everything else goes to metadata packfiles.
 */
export const BlobType = {
  /** A piece of file content, cut by the chunker. */
  CHUNK: 1,
  /** The chunk list of a file too large to keep inline in its tree entry. */
  OBJECT: 2,
  /** A node of a snapshot's file tree (B+tree keyed by path). */
  VFS_NODE: 3,
  /** A node of a snapshot's name index (B+tree keyed by lowercased file name). */
  NAME_NODE: 4,
  /** A node of a snapshot's content-type index. */
  TYPE_NODE: 5,
  /** A snapshot header. */
  SNAPSHOT: 6,
  /** Extended attributes of one entry. */
  XATTRS: 7,
} as const
export type BlobTypeValue = (typeof BlobType)[keyof typeof BlobType]

export const BLOB_TYPE_NAMES: Record<number, string> = {
  1: 'chunk',
  2: 'object',
  3: 'tree node',
  4: 'name index node',
  5: 'type index node',
  6: 'snapshot',
  7: 'xattrs',
}

export function isDataBlob(type: number): boolean {
  return type === BlobType.CHUNK
}

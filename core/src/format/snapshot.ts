import {FormatTooNewError} from '../errors.js'
import {decode, encode} from './codec.js'
import type {Summary} from '../tree/entry.js'

/**
 * A snapshot header: a SNAPSHOT blob in a metadata packfile, named by a state delta.
 * It carries its own id, so a state cannot attach one snapshot's tree to another's id.
 */
export const SNAPSHOT_VERSION = 1

export interface SnapshotHeader {
  version: number
  id: Buffer
  /** ms since the epoch. */
  time: number
  host: string
  user: string
  tags: string[]
  importer: {type: string; origin: string; root: string}
  /** The command line that made it, with anything secret-looking removed. */
  command: string[]
  trees: {vfs: Buffer; names: Buffer; types: Buffer}
  /** Everything under the importer root. */
  summary: Summary
  stats: {
    durationMs: number
    /** Bytes of file content read from the source (not skipped as unchanged). */
    readBytes: number
    /** Bytes added to the repository, after dedup, compression and encryption. */
    addedBytes: number
    addedBlobs: number
  }
  parent?: Buffer
}

export function encodeHeader(header: SnapshotHeader): Buffer {
  return encode(header)
}

export function decodeHeader(bytes: Uint8Array): SnapshotHeader {
  const header = decode<SnapshotHeader>(bytes)
  if (header.version > SNAPSHOT_VERSION) {
    throw new FormatTooNewError(
      `snapshot uses format version ${header.version} but this plakar reads up to ${SNAPSHOT_VERSION}: upgrade plakar`,
    )
  }
  return header
}

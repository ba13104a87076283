import {FormatTooNewError} from '@plakar/sdk'
import {decode, encode} from './codec.js'
import {Shape} from './shape.js'
import type {Summary} from './summary.js'

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
  /** A name the user gave (`backup --name`), to select snapshots by; absent when none was. */
  name?: string
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
  const s = new Shape('snapshot header')
  const header = s.record(decode<unknown>(bytes), 'the header') as unknown as SnapshotHeader
  s.count(header.version, 'version')
  if (header.version > SNAPSHOT_VERSION) {
    throw new FormatTooNewError(
      `snapshot uses format version ${header.version} but this plakar reads up to ${SNAPSHOT_VERSION}: upgrade plakar`,
    )
  }
  s.bytes(header.id, 'id', 32)
  s.number(header.time, 'time')
  s.string(header.host, 'host')
  s.string(header.user, 'user')
  s.list(header.tags, 'tags').forEach((t) => s.string(t, 'a tag'))
  const importer = s.record(header.importer, 'importer')
  for (const field of ['type', 'origin', 'root']) s.string(importer[field], `importer ${field}`)
  s.list(header.command, 'command')
  const trees = s.record(header.trees, 'trees')
  for (const field of ['vfs', 'names', 'types']) s.bytes(trees[field], `trees ${field}`, 32)
  s.record(header.summary, 'summary')
  s.record(header.stats, 'stats')
  if (header.parent !== undefined && header.parent !== null) s.bytes(header.parent, 'parent', 32)
  return header
}

/**
 * What selection and listings need of a snapshot, small enough to travel in the state that
 * names it: listing or filtering snapshots then reads no header blob (10,000 snapshots on a cold
 * cache open without 10,000 range reads). The header stays the authority; tags edited later
 * override `tags` (state tag edits).
 */
export interface SnapshotInfo {
  host: string
  user: string
  name?: string
  tags: string[]
  importer: {type: string; origin: string; root: string}
  /** Bytes, files and unreadable entries under the root (from the summary). */
  size: number
  files: number
  errors: number
}

export function infoOf(header: SnapshotHeader): SnapshotInfo {
  return {
    host: header.host,
    user: header.user,
    ...(header.name ? {name: header.name} : {}),
    tags: header.tags,
    importer: header.importer,
    size: header.summary.size,
    files: header.summary.files,
    errors: header.summary.errors,
  }
}

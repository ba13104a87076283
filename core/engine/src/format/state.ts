import {IntegrityError} from '@plakar/sdk'
import type {KeySet} from '../crypto/keys.js'
import {checkHeader, EnvelopeType, openEnvelope, sealEnvelope} from './codec.js'
import type {PackKind} from './packfile.js'
import type {SnapshotInfo} from './snapshot.js'

/**
 * A state delta: an append-only record of what one writer added or deleted. Clients merge every
 * delta into their local cache. Ordering invariant: a delta is written only after every
 * packfile it lists is stored, and a snapshot is listed only in a delta written after all the
 * packfiles holding its blobs. The state id is the keyed MAC of its bytes.
 */
export const STATE_VERSION = 1

export interface StatePackfile {
  id: string
  kind: PackKind
  /** [type, mac, offset, length, rawLength] for each blob. */
  blobs: [number, Buffer, number, number, number][]
}

export interface StateSnapshot {
  /** Snapshot id, 32 bytes. */
  id: Buffer
  /** MAC of the snapshot header blob. */
  header: Buffer
  /** ms since the epoch. */
  time: number
  /** A copy of what selection needs from the header; absent in states written before it existed. */
  info?: SnapshotInfo
}

/**
 * The tags of a snapshot replaced after the fact (`plakar tag`). Headers are immutable blobs,
 * so the edit is an event; of several edits of one snapshot, the latest `time` wins
 * (ties: the larger tag list in code-point order, so every client agrees).
 */
export interface TagEdit {
  id: Buffer
  tags: string[]
  time: number
}

export interface StateDelta {
  created: number
  host: string
  packfiles: StatePackfile[]
  snapshots: StateSnapshot[]
  /** Snapshots deleted by `rm`, with the time of deletion. */
  deletedSnapshots: {id: Buffer; time: number}[]
  /** Packfiles removed by maintenance. */
  deletedPackfiles: string[]
  /**
   * Packfiles maintenance found unreferenced (or repacked), to be deleted after a grace period;
   * their blobs are treated as absent meanwhile. Latest time wins against unmarks.
   */
  markedPackfiles: {id: string; time: number}[]
  /** Marks withdrawn: a snapshot references a blob found only in the packfile. */
  unmarkedPackfiles: {id: string; time: number}[]
  /** States whose content this one includes (compaction): they may be deleted. */
  supersedes: string[]
  tagEdits: TagEdit[]
}

export function emptyDelta(host: string): StateDelta {
  return {created: Date.now(), host, packfiles: [], snapshots: [], deletedSnapshots: [], deletedPackfiles: [], markedPackfiles: [], unmarkedPackfiles: [], supersedes: [], tagEdits: []}
}

export function sealState(keys: KeySet, delta: StateDelta): {id: string; bytes: Buffer} {
  const bytes = sealEnvelope(keys.sealer, EnvelopeType.STATE, STATE_VERSION, delta)
  return {id: keys.objectMac.digest(bytes).toString('hex'), bytes}
}

export function openState(keys: KeySet, id: string, bytes: Buffer): StateDelta {
  // The version first: a newer plakar's state must be refused as such (exit 78), not reported
  // as corrupted because this reader cannot tell how a newer format derives ids.
  checkHeader(bytes, EnvelopeType.STATE, STATE_VERSION, `state ${id.slice(0, 16)}`)
  if (keys.objectMac.digest(bytes).toString('hex') !== id) {
    throw new IntegrityError(`state ${id.slice(0, 16)} does not match its id: it is truncated or corrupted`)
  }
  const {value} = openEnvelope<StateDelta>(keys.sealer, bytes, EnvelopeType.STATE, STATE_VERSION, undefined, `state ${id.slice(0, 16)}`)
  return {
    created: value.created,
    host: value.host,
    packfiles: value.packfiles ?? [],
    snapshots: value.snapshots ?? [],
    deletedSnapshots: value.deletedSnapshots ?? [],
    deletedPackfiles: value.deletedPackfiles ?? [],
    markedPackfiles: value.markedPackfiles ?? [],
    unmarkedPackfiles: value.unmarkedPackfiles ?? [],
    supersedes: value.supersedes ?? [],
    tagEdits: value.tagEdits ?? [],
  }
}

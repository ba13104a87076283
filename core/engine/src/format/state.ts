import {IntegrityError} from '@plakar/sdk'
import type {KeySet} from '../crypto/keys.js'
import {checkHeader, EnvelopeType, openEnvelope, sealEnvelope} from './codec.js'
import type {PackKind} from './packfile.js'
import {Shape} from './shape.js'
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
  const {value} = openEnvelope<unknown>(keys.sealer, bytes, EnvelopeType.STATE, STATE_VERSION, undefined, `state ${id.slice(0, 16)}`)
  return checkDelta(value, new Shape(`state ${id.slice(0, 16)}`))
}

/** The delta, every field of the shape the cache relies on (optional lists absent in older states). */
export function checkDelta(value: unknown, s: Shape): StateDelta {
  const d = s.record(value, 'the delta')
  const hex = (v: unknown, field: string) => {
    const text = s.string(v, field)
    if (!/^[0-9a-f]{16,128}$/.test(text)) s.fail(`${field} is not an object id`)
    return text
  }
  const timed = (v: unknown, field: string) => {
    const r = s.record(v, field)
    return {id: hex(r.id, `${field} id`), time: s.number(r.time, `${field} time`)}
  }
  return {
    created: s.number(d.created, 'created'),
    host: s.string(d.host, 'host'),
    packfiles: s.optionalList(d.packfiles, 'packfiles').map((v) => {
      const p = s.record(v, 'a packfile')
      if (p.kind !== 'data' && p.kind !== 'meta') s.fail('a packfile kind is neither data nor meta')
      return {
        id: hex(p.id, 'a packfile id'),
        kind: p.kind,
        blobs: s.list(p.blobs, 'a packfile blobs').map((b) => {
          const row = s.list(b, 'a blob row')
          return [s.count(row[0], 'a blob type'), Buffer.from(s.bytes(row[1], 'a blob id', 32)), s.count(row[2], 'a blob offset'), s.count(row[3], 'a blob length'), s.count(row[4], 'a blob raw length')] as [number, Buffer, number, number, number]
        }),
      }
    }),
    snapshots: s.optionalList(d.snapshots, 'snapshots').map((v) => {
      const r = s.record(v, 'a snapshot')
      const snap: StateSnapshot = {id: Buffer.from(s.bytes(r.id, 'a snapshot id', 32)), header: Buffer.from(s.bytes(r.header, 'a snapshot header id', 32)), time: s.number(r.time, 'a snapshot time')}
      if (r.info !== undefined && r.info !== null) snap.info = s.record(r.info, 'a snapshot info') as unknown as SnapshotInfo
      return snap
    }),
    deletedSnapshots: s.optionalList(d.deletedSnapshots, 'deletedSnapshots').map((v) => {
      const r = s.record(v, 'a deleted snapshot')
      return {id: Buffer.from(s.bytes(r.id, 'a deleted snapshot id', 32)), time: s.number(r.time, 'a deleted snapshot time')}
    }),
    deletedPackfiles: s.optionalList(d.deletedPackfiles, 'deletedPackfiles').map((v) => hex(v, 'a deleted packfile')),
    markedPackfiles: s.optionalList(d.markedPackfiles, 'markedPackfiles').map((v) => timed(v, 'a marked packfile')),
    unmarkedPackfiles: s.optionalList(d.unmarkedPackfiles, 'unmarkedPackfiles').map((v) => timed(v, 'an unmarked packfile')),
    supersedes: s.optionalList(d.supersedes, 'supersedes').map((v) => hex(v, 'a superseded state')),
    tagEdits: s.optionalList(d.tagEdits, 'tagEdits').map((v) => {
      const r = s.record(v, 'a tag edit')
      return {id: Buffer.from(s.bytes(r.id, 'a tag edit id', 32)), tags: s.list(r.tags, 'tags').map((t) => s.string(t, 'a tag')), time: s.number(r.time, 'a tag edit time')}
    }),
  }
}

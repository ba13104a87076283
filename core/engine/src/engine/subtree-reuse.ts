import {dirname} from 'node:path/posix'
import type {FileInfo} from '@plakar/sdk'
import {decodeEntry, encodeEntry, type Entry} from '../tree/entry.js'
import type {Snapshot} from './snapshot.js'
import type {Staging} from './staging.js'

/**
 * Carries unchanged directories over from the parent snapshot (issue 15). As the scan goes, each
 * directory whose own entry equals its parent-snapshot entry is a candidate; its children wait
 * in memory instead of going to staging, each as its parent-snapshot entry's stored bytes and its
 * access time (all that differs), not as a decoded entry. A candidate whose children all equal
 * their parent-snapshot entries, in the same number as the parent snapshot had, and whose
 * subdirectories were all carried over, is unchanged: its waiting entries are dropped and one
 * row stands for the whole subtree, which the tree build copies from the parent snapshot's tree
 * as stored bytes (Staging.addReused). Anything that differs (a new, changed, missing or
 * unreadable entry) ends the candidacy of the directory and of every directory above it, and
 * what was waiting goes to staging as before.
 *
 * "Equal" ignores the access time: listing a directory and reading a file change it (the backup
 * itself does), so comparing it would carry nothing over from one day to the next. A subtree
 * carried over keeps the access times of the snapshot it comes from.
 *
 * The scan's order is not trusted: an entry that arrives under a subtree already carried over
 * (an importer that does not yield each directory's descendants together) makes that subtree
 * come back from the parent snapshot as ordinary staged entries, and the entry is staged after
 * them, so the result is the same as without reuse.
 */
export class SubtreeReuse {
  readonly #staging: Staging
  readonly #parent: Snapshot
  /** Candidate directories, by path. */
  readonly #open = new Map<string, Candidate>()
  /** Directories carried over, by path, with where their row is: a candidate's wait list or staging. */
  readonly #carried = new Map<string, Candidate | 'staged'>()
  /** Directories with entries staged before or without them: never candidates. */
  readonly #untracked = new Set<string>()
  #waiting = 0

  constructor(staging: Staging, parent: Snapshot) {
    this.#staging = staging
    this.#parent = parent
  }

  /**
   * Called when the scan yields `path`, before its entry is known: the candidate it belongs to
   * (counted as one more child), or undefined. An entry under a subtree carried over brings that
   * subtree back first.
   */
  arrive(path: string): Candidate | undefined | Promise<undefined> {
    // Yielded twice (a directory whose listing failed comes again with the error): not equal.
    const again = this.#open.get(path)
    if (again) this.#giveUp(again)
    const parentPath = dirname(path)
    const owner = parentPath === path ? undefined : this.#open.get(parentPath)
    if (owner) {
      owner.seen++
      owner.pending++
      return owner
    }
    this.#untracked.add(parentPath)
    if (this.#carried.size > 0) {
      for (let dir = parentPath; ; dir = dirname(dir)) {
        if (this.#carried.has(dir)) return this.#bringBack(dir).then(() => undefined)
        if (dir === '/' || dir === '.') break
      }
    }
    return undefined
  }

  /**
   * A directory's own entry, with its entry in the parent snapshot: starts a candidate when they
   * are equal. `owner` is what `arrive` returned.
   */
  directory(path: string, entry: Entry, seq: number, owner: Candidate | undefined, previous: Entry | undefined, previousBytes: Buffer | undefined): void {
    const expected = previous?.summary ? childCount(previous.summary.direct) : -1
    if (!previous || !previousBytes || expected < 0 || this.#untracked.has(path) || !sameEntry(previous, entry)) {
      this.settle(owner, path, entry, seq, false)
      return
    }
    const candidate: Candidate = {path, entry, seq, owner, previousBytes, expected, seen: 0, pending: 0, waiting: [], done: false}
    this.#open.set(path, candidate)
    this.#tryCarry(candidate)
  }

  /**
   * A non-directory's entry is known: staged now, or waiting while its directory is a candidate.
   * `previousBytes` (its parent-snapshot entry as stored) is needed when `same`.
   */
  settle(owner: Candidate | undefined, path: string, entry: Entry, seq: number, same: boolean, previousBytes?: Buffer): void {
    if (!owner || owner.done) {
      this.#staging.add(path, entry, seq)
      if (owner) owner.pending--
      return
    }
    owner.pending--
    if (!same || !previousBytes) {
      this.#giveUp(owner)
      this.#staging.add(path, entry, seq)
      return
    }
    this.#wait(owner, path, seq, previousBytes, entry.info.atime)
  }

  /**
   * settle() of a file found unchanged and equal to its parent-snapshot entry (sameUnchangedFile),
   * whose entry is built only when it must be staged: under a candidate it waits as the stored
   * bytes and the access time, and building it (a copy of the scanned metadata per file) was
   * garbage in an unchanged re-backup.
   */
  settleSame(owner: Candidate | undefined, path: string, seq: number, previousBytes: Buffer, atime: number | undefined, entry: () => Entry): void {
    if (!owner || owner.done) {
      this.settle(owner, path, entry(), seq, true, previousBytes)
      return
    }
    owner.pending--
    this.#wait(owner, path, seq, previousBytes, atime)
  }

  #wait(owner: Candidate, path: string, seq: number, stored: Buffer, atime: number | undefined): void {
    owner.waiting.push({path, seq, stored, atime})
    this.#waiting++
    if (this.#waiting > MAX_WAITING) for (const candidate of [...this.#open.values()]) this.#giveUp(candidate)
    else this.#tryCarry(owner)
  }

  /** The scan ended: whatever is still a candidate (an entry missing, the order not depth-first) is staged. */
  finish(): void {
    for (const candidate of [...this.#open.values()]) this.#giveUp(candidate)
  }

  #tryCarry(candidate: Candidate): void {
    if (candidate.done || candidate.pending > 0 || candidate.seen !== candidate.expected) return
    candidate.done = true
    this.#open.delete(candidate.path)
    this.#waiting -= candidate.waiting.length
    for (const row of candidate.waiting) if (row.carried) this.#carried.delete(row.path)
    const owner = candidate.owner
    if (owner && !owner.done) {
      owner.pending--
      owner.waiting.push({path: candidate.path, seq: candidate.seq, carried: candidate.previousBytes})
      this.#waiting++
      this.#carried.set(candidate.path, owner)
      this.#tryCarry(owner)
    } else {
      if (owner) owner.pending--
      this.#staging.addReused(candidate.path, candidate.previousBytes, candidate.seq)
      this.#carried.set(candidate.path, 'staged')
    }
  }

  /** The candidate differs from its parent snapshot: it and every candidate above it go to staging. */
  #giveUp(candidate: Candidate): void {
    for (let c: Candidate | undefined = candidate; c && !c.done; c = c.owner) {
      c.done = true
      this.#open.delete(c.path)
      this.#waiting -= c.waiting.length
      for (const row of c.waiting) {
        if (row.carried) {
          this.#staging.addReused(row.path, row.carried, row.seq)
          this.#carried.set(row.path, 'staged')
        } else this.#staging.add(row.path, fresh(row.stored!, row.atime), row.seq)
      }
      c.waiting = []
      this.#staging.add(c.path, c.entry, c.seq)
      // Its owner waited for it as a child: it is known now, and not equal.
      if (c.owner && !c.owner.done) c.owner.pending--
    }
  }

  /** An entry arrived under `path`, carried over: its subtree is staged again from the parent snapshot. */
  async #bringBack(path: string): Promise<void> {
    const where = this.#carried.get(path)!
    this.#carried.delete(path)
    if (where === 'staged') this.#staging.dropReused(path)
    else {
      where.waiting = where.waiting.filter((row) => row.path !== path)
      this.#waiting--
      this.#giveUp(where)
    }
    for await (const [entryPath, entry] of this.#parent.walk(path)) this.#staging.add(entryPath, entry)
  }
}

export interface Candidate {
  path: string
  entry: Entry
  seq: number
  owner: Candidate | undefined
  /** Its entry as stored in the parent snapshot. */
  previousBytes: Buffer
  /** Children in the parent snapshot. */
  expected: number
  /** Children yielded so far, and those whose entry is not known yet. */
  seen: number
  pending: number
  /**
   * Children equal to the parent snapshot's, not staged yet: `stored` and `atime`, the entry as
   * stored in the parent snapshot and the access time scanned now (what the entry is); `carried`,
   * a subdirectory carried over.
   */
  waiting: {path: string; seq: number; stored?: Buffer; atime?: number; carried?: Buffer}[]
  /** Carried over or given up. */
  done: boolean
}

/**
 * Entries waiting for their directories' decision, in all: a depth-first scan holds the children
 * of the directories on one path. One directory may hold 100,000 files (a mail folder, a cache):
 * the cap lets one such directory wait, and bounds memory (a path, the stored entry, about 400
 * bytes an entry) whatever the tree. Past it, every candidate is staged entry by entry.
 */
const MAX_WAITING = 131_072

/**
 * The entry scanned now, from its parent-snapshot entry as stored: equal to it (sameEntry) but for
 * the access time, and encoded canonically, so it is the same as the entry built from the scan.
 */
function fresh(stored: Buffer, atime: number | undefined): Entry {
  const entry = decodeEntry(stored)
  if (atime === undefined) delete entry.info.atime
  else entry.info.atime = atime
  return entry
}

function childCount(direct: {files: number; directories: number; symlinks: number; others: number; errors: number}): number {
  return direct.files + direct.directories + direct.symlinks + direct.others + direct.errors
}

/** Whether an entry equals its parent-snapshot entry, access time and directory summary aside. */
export function sameEntry(previous: Entry, entry: Entry): boolean {
  if (previous.error !== undefined || entry.error !== undefined) return false
  if (!sameInfo(previous.info, entry.info)) return false
  return (
    previous.target === entry.target &&
    sameBytes(previous.object, entry.object) &&
    sameBytes(previous.xattrs, entry.xattrs) &&
    sameChunks(previous.chunks, entry.chunks)
  )
}

/** Field by field, without building key lists: this runs for every entry of a re-backup. */
function sameInfo(a: FileInfo, b: FileInfo): boolean {
  return sameInfoWith(a, b, b.contentType)
}

/**
 * sameEntry(previous, entry) for the entry of an unchanged file (backup.ts, unchangedFrom):
 * `{info: {...scanned, contentType}, chunks: previous.chunks, object: previous.object}`, without
 * building it. Its chunks and object are the previous entry's own, and it has no target, error
 * or extended attributes.
 */
export function sameUnchangedFile(previous: Entry, scanned: FileInfo, contentType: string | undefined): boolean {
  if (previous.error !== undefined || previous.target !== undefined || previous.xattrs !== undefined) return false
  return sameInfoWith(previous.info, scanned, contentType)
}

/**
 * sameInfo(a, {...b, contentType}), field by field, without the copy: atime left out, `metadata`
 * (a string map, the one field that is not a scalar) compared by its encoding.
 */
function sameInfoWith(a: FileInfo, b: FileInfo, contentType: string | undefined): boolean {
  const ra = a as unknown as Record<string, unknown>
  const rb = b as unknown as Record<string, unknown>
  let fields = 0
  for (const k in ra) {
    const va = ra[k]
    if (k === 'atime' || va === undefined) continue
    fields++
    const vb = k === 'contentType' ? contentType : rb[k]
    if (va === vb) continue
    if (typeof va !== 'object' || typeof vb !== 'object' || va === null || vb === null) return false
    if (encodeEntry({info: va as FileInfo}).compare(encodeEntry({info: vb as FileInfo})) !== 0) return false
  }
  for (const k in rb) if (k !== 'atime' && k !== 'contentType' && rb[k] !== undefined) fields--
  if (contentType !== undefined) fields--
  return fields === 0
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return Buffer.compare(a, b) === 0
}

function sameChunks(a: Entry['chunks'], b: Entry['chunks']): boolean {
  if (a === b) return true
  if (!a || !b || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i][1] !== b[i][1] || !sameBytes(a[i][0], b[i][0])) return false
  return true
}


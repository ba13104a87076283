import {closeSync, constants, fchmodSync, fchownSync, futimesSync, openSync, renameSync, unlinkSync, write, writeSync} from 'node:fs'
import {join} from 'node:path'
import {PlakarError, type FileInfo} from '@plakar/sdk'
import type {DirectoryHandles} from './directory-handles.js'

/** A restore path split into its directory (relative to the root, "" for the root) and its name. */
export interface Place {
  /** The whole relative path, "" for the root. */
  rel: string
  dir: string
  name: string
}

/** Splits a restore path, refusing anything that would leave the root. */
export function placeOf(path: string): Place {
  if (path.includes('\0')) throw new PlakarError(`refused path with a NUL byte`)
  const parts = path.split('/').filter((p) => p !== '')
  if (parts.some((p) => p === '.' || p === '..')) throw new PlakarError(`refused path ${path}: it would leave the restore target`)
  const name = parts.pop() ?? ''
  return {rel: parts.length === 0 ? name : `${parts.join('/')}/${name}`, dir: parts.join('/'), name}
}

/** Like placeOf, for what cannot be the root: its temporary file would sit outside the root. */
export function placeBelowRoot(path: string): Place {
  const place = placeOf(path)
  if (place.rel === '') throw new PlakarError(`refused path ${path}: the restore target itself is a directory`)
  return place
}

/** Failures of the target as a whole: going on file after file would only repeat them. */
export const TARGET_FAILURES: Record<string, string> = {
  ENOSPC: 'the restore target is full',
  EDQUOT: 'the disk quota of the restore target is exceeded',
  EROFS: 'the restore target is read-only',
}

export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** A file being written: its descriptor, and the temporary name it has until renamed over its place. */
export interface OpenFile {
  place: Place
  fd: number
  temp?: string
}

/**
 * Creates, fills and finishes restored files with synchronous calls, every name resolved through
 * `handles` (one writer per thread: descriptors are never shared between threads, see
 * DirectoryHandles). Used by the exporter on its own thread and by its writing thread.
 */
export class FileWriter {
  readonly #handles: DirectoryHandles
  readonly #root: string
  readonly #asRoot: boolean
  readonly #tempPrefix: string
  #temps = 0

  /** `tag` tells this writer's temporary names from another thread's (O_EXCL catches the rest). */
  constructor(handles: DirectoryHandles, root: string, asRoot: boolean, tag = '') {
    this.#handles = handles
    this.#root = root
    this.#asRoot = asRoot
    this.#tempPrefix = `.plakar-${process.pid}${tag}-`
  }

  /** The absolute path of a place, for messages only: never used to reach the file system. */
  shown(place: Place): string {
    return join(this.#root, place.rel)
  }

  at(place: Place, name = place.name): string {
    return this.#handles.child(place.dir, name)
  }

  /** A temporary name in the same directory: cheap and unique in this process; O_EXCL catches the rest. */
  tempName(): string {
    return `${this.#tempPrefix}${(this.#temps++).toString(36)}.tmp`
  }

  /**
   * Nothing there yet (the common case): the file is created in place, O_EXCL|O_NOFOLLOW so that
   * nothing planted meanwhile is written through. Something there: a fresh temporary file, renamed
   * over it by `finish`, which replaces a symlink instead of following it.
   */
  create(place: Place): OpenFile {
    try {
      return {place, fd: openSync(this.at(place), CREATE_FLAGS, 0o600)}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const temp = this.tempName()
    return {place, fd: openSync(this.at(place, temp), CREATE_FLAGS, 0o600), temp}
  }

  /** Owner, mode and times, then the file is closed and put in its place. On failure nothing is left of it. */
  finish(file: OpenFile, info: FileInfo): void {
    try {
      if (this.#asRoot && info.uid !== undefined && info.gid !== undefined) fchownSync(file.fd, info.uid, info.gid)
      fchmodSync(file.fd, info.mode ?? 0o644)
      if (info.mtime !== undefined) futimesSync(file.fd, ...times(info.mtime, info.atime))
    } catch (error) {
      this.abandon(file)
      throw error
    }
    closeSync(file.fd)
    if (file.temp) this.replace(file.place, file.temp)
  }

  /** Closes a file that failed and removes it. */
  abandon(file: OpenFile): void {
    closeSync(file.fd)
    this.removeQuietly(file.place, file.temp ?? file.place.name)
  }

  /** A whole file, given as its parts in order. */
  storeWhole(place: Place, parts: readonly Uint8Array[], info: FileInfo): void {
    const file = this.create(place)
    try {
      for (const part of parts) writeFullySync(file.fd, part)
    } catch (error) {
      this.abandon(file)
      throw error
    }
    this.finish(file, info)
  }

  /** Renames `temp` over the place; a directory in the way is an error, never silently removed. */
  replace(place: Place, temp: string): void {
    try {
      renameSync(this.at(place, temp), this.at(place))
    } catch (error) {
      this.removeQuietly(place, temp)
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EISDIR' || code === 'ENOTEMPTY') throw new PlakarError(`cannot restore ${this.shown(place)}: a directory exists there`)
      throw error
    }
  }

  removeQuietly(place: Place, name: string): void {
    try {
      unlinkSync(this.at(place, name))
    } catch {
      // Already gone, or its directory was swapped away: nothing of ours to remove.
    }
  }
}

export function writeFullySync(fd: number, data: Uint8Array): void {
  for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset)
}

/** `data` appended at the file's position, on the thread pool; `data` must not change meanwhile. */
export async function writeFully(fd: number, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    offset += await new Promise<number>((resolve, reject) => {
      write(fd, data, offset, data.length - offset, null, (error, written) => (error ? reject(error) : resolve(written)))
    })
  }
}

/**
 * [atime, mtime] in seconds as numbers: a Date would truncate to the millisecond, while the
 * snapshot keeps sub-millisecond mtimes (float milliseconds).
 */
export function times(mtime: number, atime?: number): [number, number] {
  return [(atime ?? mtime) / 1000, mtime / 1000]
}

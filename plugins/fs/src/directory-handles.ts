import {closeSync, constants, existsSync, fstatSync, lstatSync, openSync} from 'node:fs'
import {join} from 'node:path'
import {PlakarError} from '@plakar/sdk'

/**
 * Open directories of a restore target, by their path relative to its root, so that a restore
 * never resolves a path through the file system again once a directory is verified.
 *
 * Why: checking that the parents of a path are real directories and then writing by path is a
 * race. A local user who can write in the target swaps a directory restore has just created for
 * a symlink, and the next write lands wherever it points. Node has no openat(2), but on Linux
 * `/proc/self/fd/N/name` resolves `name` inside the directory that descriptor N has open,
 * whatever has happened to its path since: the same guarantee as openat. Each directory is opened
 * from its parent's descriptor with O_NOFOLLOW|O_DIRECTORY, so no symlink is ever followed below
 * the root, and a directory renamed away keeps receiving what was meant for it, never what now
 * stands at its old name.
 *
 * Descriptors are cached (least recently used first out) and must only be used synchronously
 * right after `child()`/`dir()` returns them: an eviction during an await could close one and a
 * later open could reuse its number.
 *
 * Where /proc is missing (not Linux), paths are built from the root and every component is
 * lstat-checked on each use, uncached: a smaller race window, not none (documented in
 * docs/commands/restore.md).
 *
 * One thread, one instance: the exporter's writing thread (write-worker.ts) has its own, opened
 * from the exporter's root descriptor, and reopens each directory by name, component by component
 * (as after an eviction here). A descriptor number never crosses threads: one thread's eviction
 * could close it and an open of the other could reuse the number for another directory.
 */
export class DirectoryHandles {
  static readonly LIMIT = 256
  readonly #limit: number
  readonly #root: string
  readonly #rootFd: number
  readonly #viaProc: boolean
  /** Relative directory path ("" is the root) → open descriptor; Map order is recency. */
  readonly #open = new Map<string, number>()

  /**
   * `root` is what messages name; `options.open` the path opened for it when another one names
   * it better (the writing thread opens `/proc/self/fd/N` of the exporter's root descriptor, the
   * directory itself whatever happened to its path).
   */
  constructor(root: string, options: {open?: string; limit?: number} = {}) {
    this.#root = root
    this.#limit = options.limit ?? DirectoryHandles.LIMIT
    this.#rootFd = openSync(options.open ?? root, constants.O_RDONLY | constants.O_DIRECTORY)
    this.#viaProc = existsSync(`/proc/self/fd/${this.#rootFd}`)
  }

  /** The absolute path that names `name` inside directory `dir` (relative, "" for the root) without following a symlink on the way. */
  child(dir: string, name: string): string {
    if (!this.#viaProc) return this.#checkedPath(dir, name)
    return `/proc/self/fd/${this.fd(dir)}/${name}`
  }

  /** The descriptor of directory `dir` (relative, "" for the root), opened component by component with O_NOFOLLOW. */
  fd(dir: string): number {
    if (dir === '') return this.#rootFd
    const cached = this.#open.get(dir)
    if (cached !== undefined) {
      this.#open.delete(dir)
      this.#open.set(dir, cached)
      return cached
    }
    const cut = dir.lastIndexOf('/')
    const parent = cut < 0 ? '' : dir.slice(0, cut)
    const fd = this.#openChild(this.fd(parent), parent, dir.slice(cut + 1))
    this.#remember(dir, fd)
    return fd
  }

  /** Forgets a directory (after it was replaced), closing its descriptor. */
  forget(dir: string): void {
    const fd = this.#open.get(dir)
    if (fd === undefined) return
    this.#open.delete(dir)
    closeSync(fd)
  }

  close(): void {
    for (const fd of this.#open.values()) closeSync(fd)
    this.#open.clear()
    closeSync(this.#rootFd)
  }

  #remember(dir: string, fd: number): void {
    this.#open.set(dir, fd)
    if (this.#open.size <= this.#limit) return
    const [oldest, oldFd] = this.#open.entries().next().value as [string, number]
    this.#open.delete(oldest)
    closeSync(oldFd)
  }

  #openChild(parentFd: number, parent: string, name: string): number {
    const path = this.#viaProc ? `/proc/self/fd/${parentFd}/${name}` : this.#checkedPath(parent, name)
    try {
      return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw error
      // Linux answers ENOTDIR for a symlink opened with O_DIRECTORY|O_NOFOLLOW: tell them apart for the message.
      const symlink = lstatSync(path, {throwIfNoEntry: false})?.isSymbolicLink() ?? false
      throw new PlakarError(`refused to write below ${join(this.#root, parent, name)}: it is ${symlink ? 'a symlink' : 'not a directory'}`)
    }
  }

  /** Without /proc: the plain path, after checking each component below the root is a real directory. */
  #checkedPath(dir: string, name: string): string {
    let path = this.#root
    for (const part of dir === '' ? [] : dir.split('/')) {
      path = join(path, part)
      const stats = lstatSync(path, {throwIfNoEntry: false})
      if (!stats?.isDirectory()) throw new PlakarError(`refused to write below ${path}: it is ${stats?.isSymbolicLink() ? 'a symlink' : 'not a directory'}`)
    }
    return join(path, name)
  }
}

/** Whether `fd` is a directory this process owns (what a restore's mkdir would have made). */
export function ownedDirectory(fd: number): boolean {
  const stats = fstatSync(fd)
  return stats.isDirectory() && (process.geteuid === undefined || stats.uid === process.geteuid())
}

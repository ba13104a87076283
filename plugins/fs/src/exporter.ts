import {closeSync, constants, fchmodSync, fchownSync, fstatSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, symlinkSync} from 'node:fs'
import {lstat, mkdir} from 'node:fs/promises'
import type {Readable} from 'node:stream'
import {destroyOnAbort, markFatal, PlakarError, type CallOptions, type ConnectorContext, type Exporter, type ExportFile, type FileInfo} from '@plakar/sdk'
import {DirectoryHandles, ownedDirectory} from './directory-handles.js'
import {FileWriter, placeBelowRoot, placeOf, TARGET_FAILURES, times, writeFully, type OpenFile, type Place} from './file-writer.js'
import {fsPath} from './location.js'
import type {FileFailure} from './write-protocol.js'
import {WriteThread} from './write-thread.js'

/**
 * Restores into a local directory, and never outside it: every path is checked to stay under
 * the root, and every file system call names its object relative to an open descriptor of its
 * directory (see DirectoryHandles), so no symlink is ever followed below the root, whatever
 * happens to the tree while the restore runs. New files are created with O_EXCL|O_NOFOLLOW, or
 * written to a fresh temporary name and renamed over what stands there; directories that existed
 * before the restore keep their permissions.
 *
 * Filesystem calls are synchronous: on a local disk each takes microseconds, while a
 * promise-based call costs a thread-pool round trip (a restore of 47k small files made 790k
 * futex calls and spent more time in the kernel than in plakar). Batches of small files
 * (`storeFiles`) are written on a thread of the exporter's own (WriteThread), so that creating
 * and writing them no longer takes the thread that reads and decodes the next ones.
 */
export class FsExporter implements Exporter {
  readonly root: string
  readonly #asRoot = process.getuid?.() === 0
  readonly #handles: DirectoryHandles
  /** Directories this restore created (relative path → "dev:ino"): only those get their mode and owner applied. */
  readonly #created = new Map<string, string>()
  readonly #writer: FileWriter
  /** Where batches of small files are written; undefined: here (see WriteThread.start). */
  readonly #thread?: WriteThread

  constructor(root: string, createdRoot: boolean, options: {thread?: boolean} = {}) {
    this.root = root
    this.#handles = new DirectoryHandles(root)
    this.#writer = new FileWriter(this.#handles, root, this.#asRoot)
    if (createdRoot) this.#created.set('', identity(this.#handles.fd('')))
    if (options.thread) this.#thread = WriteThread.start(root, this.#handles.fd(''), this.#asRoot)
  }

  #place(path: string): Place {
    return placeOf(path)
  }

  #placeBelowRoot(path: string): Place {
    return placeBelowRoot(path)
  }

  #shown(place: Place): string {
    return this.#writer.shown(place)
  }

  #at(place: Place, name = place.name): string {
    return this.#writer.at(place, name)
  }

  async createDirectory(path: string, _info: FileInfo, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const place = this.#place(path)
    if (place.rel === '') return
    let made = false
    try {
      mkdirSync(this.#at(place), {mode: 0o700})
      made = true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    let fd: number
    try {
      fd = this.#handles.fd(place.rel)
    } catch (error) {
      if (!made) throw new PlakarError(`cannot restore directory ${this.#shown(place)}: something else exists there`)
      throw error
    }
    if (!made) return
    // What stands at the name now must be what mkdir made: a directory of ours. Another one
    // swapped in meanwhile is refused rather than filled with restored files.
    if (!ownedDirectory(fd)) {
      this.#handles.forget(place.rel)
      throw new PlakarError(`refused to restore into ${this.#shown(place)}: it was replaced while the restore ran`)
    }
    this.#created.set(place.rel, identity(fd))
  }

  async storeFile(path: string, data: Readable, info: FileInfo, options?: CallOptions): Promise<void> {
    const signal = options?.signal
    signal?.throwIfAborted()
    // An abort destroys the source, so a write waiting for its next chunk ends too.
    destroyOnAbort(data, signal)
    const file: OpenFile = this.#writer.create(this.#placeBelowRoot(path))
    // One write in flight on the thread pool while the next chunk is decoded: a restore's main
    // thread spent 15-20 % of its time in these writes (docs/performance.md, "Restore: large
    // files written on the thread pool"). The chunks are the stream's own, never reused.
    let writing: Promise<void> = Promise.resolve()
    try {
      for await (const chunk of data) {
        // Local writes cannot be cancelled one by one: the loop stops between chunks.
        signal?.throwIfAborted()
        await writing
        writing = writeFully(file.fd, chunk as Uint8Array)
        // Awaited at the next chunk or the end; a failure meanwhile is not an unhandled one.
        writing.catch(() => {})
      }
      await writing
    } catch (error) {
      // The descriptor is closed only once no write of ours can still reach it.
      await writing.catch(() => {})
      this.#writer.abandon(file)
      throw error
    }
    this.#writer.finish(file, info)
  }

  /**
   * Many small files, whole: on the writing thread when there is one (one message a batch, the
   * content copied once), else here. A failure of the target as a whole (TARGET_FAILURES) ends
   * the batch and rejects; any other failure is that file's outcome.
   */
  async storeFiles(files: readonly ExportFile[], options?: CallOptions): Promise<(Error | undefined)[]> {
    const signal = options?.signal
    signal?.throwIfAborted()
    if (!this.#thread) return this.#storeFilesHere(files, signal)
    const stop = new Int32Array(new SharedArrayBuffer(4))
    const onAbort = () => Atomics.store(stop, 0, 1)
    signal?.addEventListener('abort', onAbort, {once: true})
    let answer
    try {
      answer = await this.#thread.write(files, stop)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    const outcomes = answer.outcomes.map((o) => (o ? errorOf(o) : undefined))
    if (answer.end === 'aborted') throw signal?.reason ?? new PlakarError('the restore was stopped')
    if (answer.end === 'target') throw outcomes.at(-1)!
    return outcomes
  }

  #storeFilesHere(files: readonly ExportFile[], signal?: AbortSignal): (Error | undefined)[] {
    const outcomes: (Error | undefined)[] = []
    for (const {path, parts, info} of files) {
      signal?.throwIfAborted()
      try {
        this.#writer.storeWhole(this.#placeBelowRoot(path), parts, info)
        outcomes.push(undefined)
      } catch (error) {
        if (TARGET_FAILURES[(error as NodeJS.ErrnoException).code ?? '']) throw error
        outcomes.push(error as Error)
      }
    }
    return outcomes
  }

  async createLink(path: string, target: string, kind: 'symlink' | 'hardlink', info?: FileInfo, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const place = this.#placeBelowRoot(path)
    const temp = this.#writer.tempName()
    if (kind === 'hardlink') {
      const source = this.#placeBelowRoot(target)
      if (!lstatSync(this.#at(source), {throwIfNoEntry: false})?.isFile()) throw new PlakarError(`refused hard link ${path}: its target is not a restored file`)
      // link(2) never follows a symlink in its last component, and the parents come from descriptors.
      linkSync(this.#at(source), this.#at(place, temp))
    } else {
      // In place when nothing is there (symlink() never follows or replaces), else via a rename.
      let inPlace = true
      try {
        symlinkSync(target, this.#at(place))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        inPlace = false
        symlinkSync(target, this.#at(place, temp))
      }
      if (info) {
        const link = this.#at(place, inPlace ? place.name : temp)
        try {
          if (this.#asRoot && info.uid !== undefined && info.gid !== undefined) lchownSync(link, info.uid, info.gid)
          if (info.mtime !== undefined) lutimesSync(link, ...times(info.mtime, info.atime))
        } catch {
          // Owner and times of a symlink are best effort (some filesystems refuse them).
        }
      }
      if (inPlace) return
    }
    this.#writer.replace(place, temp)
  }

  async setMetadata(path: string, info: FileInfo, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const place = this.#place(path)
    // Through a descriptor opened without following a symlink, so that chmod, chown and utimes
    // land on the object restore made, never on what a symlink swapped in would point to.
    let fd: number
    try {
      fd = place.rel === '' ? this.#handles.fd('') : openSync(this.#at(place), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') return
      throw error
    }
    try {
      const stats = fstatSync(fd)
      const ours = this.#created.get(place.rel) === `${stats.dev}:${stats.ino}`
      if (ours || !stats.isDirectory()) {
        if (this.#asRoot && info.uid !== undefined && info.gid !== undefined) fchownSync(fd, info.uid, info.gid)
        if (info.mode !== undefined) fchmodSync(fd, info.mode)
        else if (stats.isDirectory()) fchmodSync(fd, 0o755)
        this.#created.delete(place.rel)
      }
      if (info.mtime !== undefined) futimesSync(fd, ...times(info.mtime, info.atime))
    } finally {
      if (place.rel !== '') closeSync(fd)
    }
  }

  async close(): Promise<void> {
    // The thread's root was opened through this one's descriptor: it ends first.
    await this.#thread?.close()
    this.#handles.close()
  }
}

/** "dev:ino" of an open descriptor: which object a name stood for when restore made it. */
function identity(fd: number): string {
  const stats = fstatSync(fd)
  return `${stats.dev}:${stats.ino}`
}

/** A failure from the writing thread as an error of this thread: its class's exit code, its errno code. */
function errorOf(failure: FileFailure): Error {
  if (failure.exitCode !== undefined) return new PlakarError(failure.message, failure.exitCode)
  return Object.assign(new Error(failure.message), failure.code === undefined ? {} : {code: failure.code})
}

export default async function createExporter(context: ConnectorContext): Promise<Exporter> {
  const root = fsPath(context.location)
  const created = (await mkdir(root, {recursive: true, mode: 0o700})) !== undefined
  const stats = await lstat(root)
  if (!stats.isDirectory()) throw new PlakarError(`cannot restore into ${root}: it is not a directory`)
  return stopOnTargetFailure(new FsExporter(root, created, {thread: true}))
}

/**
 * Marks the errors above `fatal`, so that the engine ends the restore with one line (what was
 * already restored stays) instead of one warning per remaining file.
 */
function stopOnTargetFailure(exporter: FsExporter): Exporter {
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (error) {
      const reason = TARGET_FAILURES[(error as NodeJS.ErrnoException).code ?? '']
      if (reason) throw markFatal(new PlakarError(`${reason}: ${exporter.root}; free some space and restore again`))
      throw error
    }
  }
  return {
    root: exporter.root,
    // Every call's options (its signal) go through: a dropped signal left an aborted restore
    // waiting on a stalled source.
    createDirectory: (path, info, options) => guard(() => exporter.createDirectory(path, info, options)),
    storeFile: (path, data, info, options) => guard(() => exporter.storeFile(path, data, info, options)),
    storeFiles: (files, options) => guard(() => exporter.storeFiles(files, options)),
    createLink: (path, target, kind, info, options) => guard(() => exporter.createLink(path, target, kind, info, options)),
    setMetadata: (path, info, options) => guard(() => exporter.setMetadata(path, info, options)),
    close: () => exporter.close(),
  }
}

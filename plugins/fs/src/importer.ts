import {constants, lstatSync, mkdirSync, readlinkSync, type Stats} from 'node:fs'
import {lstat, open} from 'node:fs/promises'
import {Readable} from 'node:stream'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {PlakarError, type ConnectorContext, type Importer, type ImportRecord, type ScanError, type ScanOptions} from '@plakar/core'
import {fileInfo} from './file-info.js'
import {fsPath} from './location.js'
import {listSorted} from './sorted-listing.js'

/**
 * The local filesystem as a data source. Each directory is listed in the snapshot tree's order
 * (see sorted-listing.ts), depth first; the engine sorts records on disk anyway. Metadata calls are
 * synchronous: on a local disk an lstat takes a few microseconds, four times less than its
 * promise-based twin, and the scan is the only I/O this thread does (file contents are read by
 * the engine's workers through `localPath`).
 */
export class FsImporter implements Importer {
  readonly type = 'fs'
  readonly origin = hostname()
  readonly root: string
  readonly local = true

  /** Where listings of huge directories spill their sorted runs. */
  readonly #spillDir: string

  constructor(root: string, spillDir = tmpdir()) {
    this.#spillDir = spillDir
    this.root = root
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    let rootStats
    try {
      rootStats = lstatSync(this.root)
    } catch (error) {
      yield {path: this.root, error: describe(error)}
      return
    }
    yield this.#record(this.root, rootStats)
    if (!rootStats.isDirectory()) return
    const pending: {path: string; stats: Stats}[] = [{path: this.root, stats: rootStats}]
    while (pending.length > 0) {
      options.signal.throwIfAborted()
      const {path: dir, stats: dirStats} = pending.pop()!
      let names: Iterable<string>
      let failure: unknown
      try {
        ;({names, failure} = listSorted(dir, this.#spillDir))
      } catch (error) {
        // The directory itself is known: keep it, marked with why its content is missing.
        yield {path: dir, error: describe(error), info: fileInfo(dirStats)}
        continue
      }
      for (const name of names) {
        const path = join(dir, name)
        let stats: Stats
        try {
          stats = lstatSync(path)
        } catch (error) {
          // Names are decoded as UTF-8: an invalid byte became U+FFFD and the path names nothing
          // (paths are strings throughout plakar, so such a file cannot be backed up).
          const mangled = (error as NodeJS.ErrnoException).code === 'ENOENT' && name.includes('\uFFFD')
          yield {path, error: mangled ? 'not backed up: its name is not valid UTF-8' : describe(error)}
          continue
        }
        const isDir = stats.isDirectory()
        if (options.skip?.(path, isDir)) continue
        if (isDir) pending.push({path, stats})
        yield this.#record(path, stats)
      }
      if (failure !== undefined) {
        // What was listed is kept; the directory too, marked with why the rest is missing (an
        // error without info would make it an entry of unknown type, and its children orphans).
        yield {path: dir, error: describe(failure), info: fileInfo(dirStats)}
      }
    }
  }

  #record(path: string, stats: Stats): ImportRecord | ScanError {
    const info = fileInfo(stats)
    const record: ImportRecord = {path, info}
    if (info.type === 'symlink') {
      try {
        record.target = readlinkSync(path)
      } catch (error) {
        return {path, error: describe(error)}
      }
    } else if (info.type === 'file') {
      record.open = () => openContent(path, info.size)
      record.localPath = path
    }
    return record
  }

  async close(): Promise<void> {}
}

/** Files up to this size are read in one call: a stream's 1 MiB read buffer per small file costs more than the read. */
const WHOLE_READ_LIMIT = 4 * 1024 * 1024

/**
 * The file may have changed since the scan saw a regular file: a symlink put in its place is
 * never followed, a FIFO never blocks the open, and what is opened must be a regular file.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

async function openContent(path: string, size: number): Promise<Readable> {
  const handle = await open(path, OPEN_FLAGS)
  let streamed = false
  try {
    if (!(await handle.stat()).isFile()) throw Object.assign(new Error('it is no longer a regular file'), {code: 'ENOTREG'})
    if (size <= WHOLE_READ_LIMIT) return Readable.from([await handle.readFile()])
    streamed = true
    return handle.createReadStream({highWaterMark: 1024 * 1024})
  } finally {
    if (!streamed) await handle.close()
  }
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied'
  if (e.code === 'ENOENT') return 'no such file or directory'
  return e.message
}

export default async function createImporter(context: ConnectorContext): Promise<Importer> {
  const root = fsPath(context.location)
  try {
    await lstat(root)
  } catch (error) {
    throw new PlakarError(`cannot back up ${root}: ${describe(error)}`)
  }
  mkdirSync(context.cacheDir, {recursive: true, mode: 0o700})
  return new FsImporter(root, context.cacheDir)
}

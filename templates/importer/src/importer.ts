import {posix} from 'node:path'
import type {Readable} from 'node:stream'
import {destroyOnAbort} from '@plakar/sdk'
import type {ConnectorContext, FileInfo, Importer, ImportRecord, ScanError, ScanOptions} from '@plakar/sdk'
import type {Config} from './config.js'
import {openSource} from './source.js'

export {schema} from './config.js'

/** One entry of a directory of the source. */
export type SourceEntry =
  | {name: string; info: FileInfo; target?: string}
  /** An entry the source could not describe: recorded in the snapshot as an error, the scan goes on. */
  | {name: string; error: string}

/**
 * What a data source provides: src/source.ts implements it. Paths are '/'-separated and
 * absolute, in the source's own namespace: "/" + what identifies an item for your users
 * ("/customers/42.json", "/table/row-id").
 */
export interface Source {
  /** Where the data comes from (a host name, an endpoint): with the root, it finds a backup's parent snapshot. */
  readonly origin: string
  /** The path the backup starts at. */
  readonly root: string
  /** The entry at `path` (the root, at least). */
  stat(path: string): Promise<{info: FileInfo; target?: string}>
  /** The entries of the directory at `path`, one by one (never load a huge listing at once). */
  list(path: string): AsyncIterable<SourceEntry>
  /** The content of the regular file at `path`: exactly `info.size` bytes. */
  open(path: string): Promise<Readable>
  close(): Promise<void>
}

/**
 * The Importer contract over a {@link Source}: a depth-first walk that yields every entry once,
 * asks `skip()` before descending, stops when the backup is cancelled, and turns a failure on
 * one entry into a ScanError (recorded in the snapshot) instead of failing the backup.
 * Content is pulled lazily: the engine calls `open()` only for files it has to read.
 */
export class SourceImporter implements Importer {
  readonly type = '{{scheme}}'
  readonly origin: string
  readonly root: string

  constructor(private readonly source: Source) {
    this.origin = source.origin
    this.root = source.root
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    let top
    try {
      top = await this.source.stat(this.root)
    } catch (error) {
      yield {path: this.root, error: message(error)}
      return
    }
    yield this.#record(this.root, top)
    if (top.info.type !== 'directory') return
    const pending = [this.root]
    while (pending.length > 0) {
      options.signal.throwIfAborted()
      const dir = pending.pop()!
      try {
        for await (const entry of this.source.list(dir)) {
          const path = posix.join(dir, entry.name)
          if ('error' in entry) {
            yield {path, error: entry.error}
            continue
          }
          const isDirectory = entry.info.type === 'directory'
          if (options.skip?.(path, isDirectory)) continue
          if (isDirectory) pending.push(path)
          yield this.#record(path, entry)
        }
      } catch (error) {
        yield {path: dir, error: message(error)}
      }
    }
  }

  #record(path: string, entry: {info: ImportRecord['info']; target?: string}): ImportRecord {
    const record: ImportRecord = {path, info: entry.info}
    if (entry.target !== undefined) record.target = entry.target
    // The engine aborts `signal` on Ctrl-C: the stream ends with the abort.
    if (entry.info.type === 'file') record.open = async (options) => {
      const stream = await this.source.open(path)
      return destroyOnAbort(stream, options?.signal)
    }
    return record
  }

  async close(): Promise<void> {
    await this.source.close()
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** What plakar calls: the options in `context.config` have passed the schema of config.ts. */
export default async function createImporter(context: ConnectorContext<Config>): Promise<Importer> {
  return new SourceImporter(await openSource(context))
}

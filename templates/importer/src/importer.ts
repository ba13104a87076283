import {posix} from 'node:path'
import type {ConnectorContext, Importer, ImportRecord, ScanError, ScanOptions} from '@plakar/core'
import type {Config} from './config.js'
import {openSource, type Source} from './source.js'

export {schema} from './config.js'

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
    if (entry.info.type === 'file') record.open = () => this.source.open(path)
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

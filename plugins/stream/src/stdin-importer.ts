import {hostname} from 'node:os'
import type {Readable} from 'node:stream'
import {abortable, UsageError, type ConnectorContext, type Importer, type ImportRecord, type ScanError, type ScanOptions} from '@plakar/sdk'
import {recordPathOf} from './names.js'
import {sequentialRecord} from './sequential.js'

export interface StdinConfig {
  mode?: string
}

/**
 * Standard input as one file named NAME (`pg_dump db | plakar backup stdin:db.sql`): the
 * snapshot's root is "/", holding that one file. Its size is what arrived; its time is when the
 * backup started. Content is chunked as it arrives, so memory does not depend on its size.
 */
export class StdinImporter implements Importer {
  readonly type = 'stdin'
  readonly origin = hostname()
  readonly root = '/'
  readonly #path: string
  readonly #mode: number
  readonly #input: Readable

  constructor(name: string, mode: number, input: Readable) {
    this.#path = recordPathOf(name)
    if (this.#path === '/') throw new UsageError('name the file: stdin:NAME (for example stdin:db.sql)')
    this.#mode = mode
    this.#input = input
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    const now = Date.now()
    yield {path: '/', info: {type: 'directory', size: 0, mode: 0o755, mtime: now}}
    if (options.skip?.(this.#path, false)) return
    const {record, consumed} = sequentialRecord(this.#path, {type: 'file', size: 0, mode: this.#mode, mtime: now}, this.#input)
    yield record
    await abortable(consumed, options.signal)
  }

  async close(): Promise<void> {}
}

export default async function createStdinImporter(context: ConnectorContext<StdinConfig>): Promise<Importer> {
  const name = context.location.replace(/^stdin:(\/\/)?/, '')
  if (process.stdin.isTTY) throw new UsageError('standard input is a terminal: pipe the data in (for example: pg_dump db | plakar backup stdin:db.sql)')
  const mode = context.config.mode === undefined ? 0o600 : Number.parseInt(context.config.mode, 8)
  return new StdinImporter(name, mode, process.stdin)
}

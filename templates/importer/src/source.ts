import {createReadStream} from 'node:fs'
import {lstat, opendir, readlink} from 'node:fs/promises'
import {hostname} from 'node:os'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {fileInfoFromStats, UsageError, type ConnectorContext, type FileInfo} from '@plakar/sdk'
import type {Config} from './config.js'
import type {Source, SourceEntry} from './importer.js'

/**
 * THE PART TO REPLACE: the data source this importer reads. The skeleton reads a directory tree
 * of this host (location `{{scheme}}:/some/path`). Implement the Source interface of importer.ts
 * (`stat`, `list`, `open`, `close`) for your system (an internal API, a database, a SaaS) and
 * make `openSource` build it from the location and the options; `importer.ts` turns it into the
 * Importer contract (walk order, skip(), cancellation, per-entry errors).
 */

/** The location as a path: "{{scheme}}:/abs/path", "{{scheme}}:///abs/path". */
function pathOf(location: string): string {
  const path = location.replace(/^[a-z][a-z0-9+.-]*:(\/\/)?/i, '')
  if (!path.startsWith('/')) throw new UsageError(`{{scheme}}: expected an absolute path, as in {{scheme}}:/srv/data (got ${JSON.stringify(location)})`)
  return path.length > 1 ? path.replace(/\/+$/, '') : path
}

function describe(error: unknown): string {
  const code = (error as {code?: string}).code
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'ENOENT') return 'no such file or directory'
  return (error as Error).message ?? String(error)
}

class DirectorySource implements Source {
  readonly origin = hostname()
  constructor(
    readonly root: string,
    private readonly config: Config,
  ) {}

  async stat(path: string): Promise<{info: FileInfo; target?: string}> {
    const stats = await lstat(path)
    const info = fileInfoFromStats(stats)
    return info.type === 'symlink' ? {info, target: await readlink(path)} : {info}
  }

  async *list(path: string): AsyncIterable<SourceEntry> {
    for await (const dirent of await opendir(path, {bufferSize: 128})) {
      if (this.config.exclude_hidden && dirent.name.startsWith('.')) continue
      try {
        yield {name: dirent.name, ...(await this.stat(join(path, dirent.name)))}
      } catch (error) {
        yield {name: dirent.name, error: describe(error)}
      }
    }
  }

  async open(path: string): Promise<Readable> {
    // Resolve once the file is open, so that an unreadable file fails here and not mid-stream.
    return new Promise((resolve, reject) => {
      const stream = createReadStream(path, {highWaterMark: 1024 * 1024})
      stream.once('open', () => resolve(stream))
      stream.once('error', (error) => reject(new Error(`${path}: ${describe(error)}`)))
    })
  }

  async close(): Promise<void> {}
}

export async function openSource(context: ConnectorContext<Config>): Promise<Source> {
  const root = pathOf(context.location)
  try {
    await lstat(root)
  } catch (error) {
    throw new UsageError(`cannot back up ${context.location}: ${describe(error)}`)
  }
  return new DirectorySource(root, context.config)
}

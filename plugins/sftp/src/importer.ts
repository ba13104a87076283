import {posix} from 'node:path'
import {PlakarError, type ConnectorContext, type Importer, type ImportRecord, type ScanError, type ScanOptions} from '@plakar/sdk'
import {SftpConnector} from './connector.js'
import {finalError, SftpOpError} from './errors.js'
import {fileInfo} from './file-info.js'
import {hostKeyName, parseSftpLocation} from './location.js'
import type {Attributes, SftpSession} from './session.js'
import {downloadStream} from './transfer.js'

/**
 * A remote tree over SFTP as a data source. Directories are read batch by batch (READDIR), the
 * attributes each batch carries give every entry's FileInfo without one LSTAT per entry, and a
 * file's content is streamed with pipelined READs when the engine asks for it. A lost
 * connection is re-established and the operation retried; a path that cannot be read
 * (permission denied, vanished) becomes a ScanError and the scan goes on; a server that stays
 * unreachable ends the scan with one error.
 */
export class SftpImporter implements Importer {
  readonly type = 'sftp'
  readonly origin: string
  readonly root: string
  readonly #connector: SftpConnector

  constructor(connector: SftpConnector, root: string) {
    this.#connector = connector
    this.root = root
    this.origin = hostKeyName(connector.location.host, connector.location.port)
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    let rootAttrs: Attributes
    try {
      rootAttrs = await this.#connector.run((session) => session.lstat(this.root))
    } catch (error) {
      yield {path: this.root, error: this.#describe(error)}
      return
    }
    yield await this.#record(this.root, rootAttrs)
    if (fileInfo(rootAttrs).type !== 'directory') return
    const pending = [this.root]
    while (pending.length > 0) {
      options.signal.throwIfAborted()
      const dir = pending.pop()!
      try {
        for await (const {filename, attrs} of this.#entries(dir)) {
          options.signal.throwIfAborted()
          const path = dir === '/' ? `/${filename}` : `${dir}/${filename}`
          const isDir = fileInfo(attrs).type === 'directory'
          if (options.skip?.(path, isDir)) continue
          if (isDir) pending.push(path)
          yield await this.#record(path, attrs)
        }
      } catch (error) {
        yield {path: dir, error: this.#describe(error)}
      }
    }
  }

  /**
   * A directory's entries, batch by batch: memory stays bounded whatever its size. If the
   * connection is lost midway, the listing restarts on a new connection and skips the entries
   * already given (servers list an unchanged directory in the same order).
   */
  async *#entries(dir: string): AsyncGenerator<{filename: string; attrs: Attributes}> {
    let given = 0
    let failures = 0
    for (;;) {
      let session: SftpSession | undefined
      let handle: Buffer | undefined
      try {
        session = await this.#connector.session()
        handle = await session.opendir(dir)
        let index = 0
        for (;;) {
          const batch = await session.readdirBatch(handle, dir)
          if (!batch) return
          for (const entry of batch) {
            if (index++ < given) continue
            given++
            failures = 0
            yield {filename: entry.filename, attrs: entry.attrs}
          }
        }
      } catch (error) {
        if (!(error instanceof SftpOpError && error.transient) || ++failures >= this.#connector.attempts) {
          throw finalError(error, this.#connector.server, failures)
        }
        this.#connector.invalidate(session, error)
        await this.#connector.pause(failures)
      } finally {
        if (session && handle) session.forget(handle)
      }
    }
  }

  async #record(path: string, attrs: Attributes): Promise<ImportRecord | ScanError> {
    const info = fileInfo(attrs)
    const record: ImportRecord = {path, info}
    if (info.type === 'symlink') {
      try {
        record.target = await this.#connector.run((session) => session.readlink(path))
      } catch (error) {
        return {path, error: this.#describe(error)}
      }
    } else if (info.type === 'file') {
      record.open = async (options) => {
        const signal = options?.signal
        const opened = await this.#connector.run(async (session) => ({session, handle: await session.open(path, 'r')}), signal)
        return downloadStream(this.#connector, path, {opened, what: path, signal})
      }
    }
    return record
  }

  /** Per-path problems become ScanErrors; a server that stays unreachable stops the scan. */
  #describe(error: unknown): string {
    if (error instanceof SftpOpError && !error.transient) {
      if (error.code === 'ENOENT') return 'no such file or directory'
      if (error.code === 'EACCES') return 'permission denied'
      return error.message
    }
    throw error
  }

  async close(): Promise<void> {
    await this.#connector.close()
  }
}

export default async function createImporter(context: ConnectorContext): Promise<Importer> {
  const connector = SftpConnector.fromContext(context)
  try {
    const path = connector.location.path
    // An absolute, normalised root: "~/x" and "." are resolved on the server.
    const root = path.startsWith('/') ? path : await connector.run((session) => session.realpath(path))
    await connector.run((session) => session.lstat(root)).catch((error) => {
      if (!(error instanceof SftpOpError) || error.transient) throw error
      const why = error.code === 'ENOENT' ? 'no such file or directory' : error.code === 'EACCES' ? 'permission denied' : error.message
      throw new PlakarError(`cannot back up ${context.location}: ${why}`)
    })
    return new SftpImporter(connector, posix.normalize(root))
  } catch (error) {
    await connector.close()
    throw error
  }
}

/** Refuses a location createImporter would refuse (a password in it, no host), without connecting. */
export function checkLocation(location: string): void {
  parseSftpLocation(location)
}

import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {chmod, link, lstat, lutimes, mkdir, open, rename, symlink, unlink, utimes} from 'node:fs/promises'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {destroyOnAbort, pathComponents, PlakarError, UsageError, type CallOptions, type ConnectorContext, type Exporter, type FileInfo} from '@plakar/sdk'
import type {Config} from './config.js'

export {schema} from './config.js'

/**
 * The skeleton writes into a directory of this host (location `{{scheme}}:/some/path`). To write
 * somewhere else (an API, a document store), keep the shape: the engine calls
 * `createDirectory('/')` first, then each directory before its children, `storeFile` for every
 * file (possibly several at once), `createLink` for links, and `setMetadata` on a directory
 * after all of its children. Paths are '/'-separated and relative to the target's root.
 *
 * A snapshot may be hostile: never let a path leave the root (".." and NUL are refused by
 * `pathComponents`), and never write through a symlink this restore created (each parent is
 * checked to be a real directory, and files are renamed into place, which replaces a link
 * rather than following it). A file appears whole or not at all.
 */
export class DirectoryExporter implements Exporter {
  constructor(
    readonly root: string,
    private readonly config: Config,
  ) {}

  /** The local path of a restore path, after checking that every parent below the root is a real directory. */
  async #local(path: string, options: {allowRoot?: boolean} = {}): Promise<string> {
    const parts = pathComponents(path)
    if (parts.length === 0 && !options.allowRoot) throw new UsageError(`refused path ${JSON.stringify(path)}: the restore target itself is a directory`)
    let dir = this.root
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part)
      const stats = await lstat(dir).catch(() => undefined)
      if (!stats?.isDirectory()) throw new PlakarError(`refused to write below ${dir}: it is ${stats?.isSymbolicLink() ? 'a symlink' : 'not a directory'}`)
    }
    return join(this.root, ...parts)
  }

  /** A fresh temporary name beside `full`, renamed over it once complete. */
  #temp(full: string): string {
    return join(full, '..', `.${randomBytes(6).toString('hex')}.tmp`)
  }

  async createDirectory(path: string, _info: FileInfo): Promise<void> {
    const full = await this.#local(path, {allowRoot: true})
    try {
      await mkdir(full, {mode: 0o700}) // owner-only until setMetadata applies the real mode
    } catch (error) {
      if ((error as {code?: string}).code !== 'EEXIST' || !(await lstat(full)).isDirectory()) throw error
    }
  }

  /** `options.signal` is aborted on Ctrl-C: destroying the source with it ends the write at once. */
  async storeFile(path: string, data: Readable, info: FileInfo, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    destroyOnAbort(data, options?.signal)
    const full = await this.#local(path)
    const temp = this.#temp(full)
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    try {
      for await (const chunk of data as AsyncIterable<Uint8Array>) {
        for (let done = 0; done < chunk.length; ) done += (await handle.write(chunk, done)).bytesWritten
      }
      await handle.chmod(info.mode ?? 0o644)
      if (info.mtime !== undefined) await handle.utimes(...times(info))
      if (this.config.fsync) await handle.sync()
      await handle.close()
      await rename(temp, full)
    } catch (error) {
      await handle.close().catch(() => {})
      await unlink(temp).catch(() => {})
      throw error
    }
  }

  async createLink(path: string, target: string, kind: 'symlink' | 'hardlink', info?: FileInfo): Promise<void> {
    const full = await this.#local(path)
    const temp = this.#temp(full)
    if (kind === 'hardlink') {
      const existing = await this.#local(target)
      if (!(await lstat(existing)).isFile()) throw new PlakarError(`refused hard link ${path}: ${target} is not a restored file`)
      await link(existing, temp)
    } else {
      await symlink(target, temp)
      if (info?.mtime !== undefined) await lutimes(temp, ...times(info)).catch(() => {})
    }
    await rename(temp, full).catch(async (error) => {
      await unlink(temp).catch(() => {})
      throw error
    })
  }

  async setMetadata(path: string, info: FileInfo): Promise<void> {
    const full = await this.#local(path, {allowRoot: true})
    const stats = await lstat(full)
    if (stats.isSymbolicLink()) return // chmod and utimes would follow it
    await chmod(full, info.mode ?? (stats.isDirectory() ? 0o755 : 0o644))
    if (info.mtime !== undefined) await utimes(full, ...times(info))
  }

  async close(): Promise<void> {}
}

/** [atime, mtime] in seconds (FileInfo times are milliseconds, with their fraction). */
function times(info: FileInfo): [number, number] {
  return [(info.atime ?? info.mtime!) / 1000, info.mtime! / 1000]
}

/** "{{scheme}}:/abs/path", "{{scheme}}:///abs/path" → "/abs/path". */
function pathOf(location: string): string {
  const path = location.replace(/^[a-z][a-z0-9+.-]*:(\/\/)?/i, '')
  if (!path.startsWith('/')) throw new UsageError(`{{scheme}}: expected an absolute path, as in {{scheme}}:/srv/restore (got ${JSON.stringify(location)})`)
  return path
}

/** What plakar calls: the options in `context.config` have passed the schema of config.ts. */
export default async function createExporter(context: ConnectorContext<Config>): Promise<Exporter> {
  const root = pathOf(context.location)
  await mkdir(root, {recursive: true, mode: 0o700})
  if (!(await lstat(root)).isDirectory()) throw new UsageError(`cannot restore into ${root}: it is not a directory`)
  return new DirectoryExporter(root, context.config)
}

import {randomBytes} from 'node:crypto'
import {posix} from 'node:path'
import type {Readable} from 'node:stream'
import type {InputAttributes} from 'ssh2'
import {PlakarError, type CallOptions, type ConnectorContext, type Exporter, type FileInfo} from '@plakar/sdk'
import {parseSftpLocation} from './location.js'
import {SftpConnector} from './connector.js'
import {SftpOpError} from './errors.js'
import {mkdirp} from './fsops.js'
import type {SftpSession} from './session.js'
import {upload} from './transfer.js'

/**
 * Restores into a directory of an SFTP server, and never outside it: every path is checked to
 * stay under the root, every parent is verified (LSTAT) to be a real directory and not a
 * symlink before anything is written below it, files are written to a fresh exclusive temporary
 * name and renamed over the target (posix-rename@openssh.com), and directories that existed
 * before the restore keep their permissions. Modes and times are applied; owners too when the
 * login user is root.
 */
export class SftpExporter implements Exporter {
  readonly root: string
  readonly #connector: SftpConnector
  readonly #asRoot: boolean
  /** Directories known to be real directories inside the root (bounded; re-verified on a miss). */
  readonly #verified = new Set<string>()
  /** Directories this restore created: only those get their mode applied. */
  readonly #created = new Set<string>()

  constructor(connector: SftpConnector, root: string, createdRoot: boolean, asRoot: boolean) {
    this.#connector = connector
    this.root = root
    this.#asRoot = asRoot
    if (createdRoot) this.#created.add(root)
    this.#verified.add(root)
  }

  /** Remote path for a restore path, refusing anything that would leave the root. */
  #resolve(path: string): string {
    if (path.includes('\0')) throw new PlakarError('refused path with a NUL byte')
    const parts = path.split('/').filter((p) => p !== '')
    if (parts.some((p) => p === '.' || p === '..')) throw new PlakarError(`refused path ${path}: it would leave the restore target`)
    return parts.length === 0 ? this.root : posix.join(this.root, ...parts)
  }

  /** Verifies every ancestor of `full` inside the root is a real directory, not a symlink. */
  async #checkParents(session: SftpSession, full: string): Promise<void> {
    const chain: string[] = []
    for (let dir = posix.dirname(full); dir !== this.root && dir.startsWith(`${this.root === '/' ? '' : this.root}/`); dir = posix.dirname(dir)) {
      if (this.#verified.has(dir)) break
      chain.push(dir)
    }
    for (const dir of chain.reverse()) {
      const stats = await session.lstat(dir).catch((error: SftpOpError) => {
        if (error.transient) throw error
        return undefined
      })
      if (!stats || !stats.isDirectory()) {
        throw new PlakarError(`refused to write below ${dir}: it is ${stats?.isSymbolicLink() ? 'a symlink' : stats ? 'not a directory' : 'missing'}`)
      }
      this.#remember(dir)
    }
  }

  #remember(dir: string): void {
    if (this.#verified.size > 65536) {
      this.#verified.clear()
      this.#verified.add(this.root)
    }
    this.#verified.add(dir)
  }

  #refuseRoot(full: string, what: string): void {
    if (full === this.root) throw new PlakarError(`refused to ${what} the restore target itself`)
  }

  async createDirectory(path: string, _info: FileInfo, options?: CallOptions): Promise<void> {
    const full = this.#resolve(path)
    await this.#connector.run(async (session) => {
      await this.#checkParents(session, full)
      try {
        await session.mkdir(full, {mode: 0o700})
        this.#created.add(full)
      } catch (error) {
        if ((error as SftpOpError).transient) throw error
        const stats = await session.lstat(full).catch(() => undefined)
        if (!stats?.isDirectory()) {
          throw new PlakarError(`cannot restore directory ${path}: ${stats ? 'something else exists there' : (error as Error).message}`)
        }
      }
    }, options?.signal)
    this.#remember(full)
  }

  #attrs(info: FileInfo): InputAttributes {
    const attrs: InputAttributes = {mode: info.mode ?? 0o644}
    if (info.mtime !== undefined) {
      attrs.mtime = Math.floor(info.mtime / 1000)
      attrs.atime = Math.floor((info.atime ?? info.mtime) / 1000)
    }
    if (this.#asRoot && info.uid !== undefined && info.gid !== undefined) {
      attrs.uid = info.uid
      attrs.gid = info.gid
    }
    return attrs
  }

  async storeFile(path: string, data: Readable, info: FileInfo, options?: CallOptions): Promise<void> {
    const signal = options?.signal
    const full = this.#resolve(path)
    this.#refuseRoot(full, 'replace')
    const temp = posix.join(posix.dirname(full), `.${randomBytes(6).toString('hex')}.plakar-tmp`)
    try {
      await this.#connector.run((session) => this.#checkParents(session, full), signal)
      // No fsync per file (the fs exporter does not either): a restore is not a repository.
      await upload(this.#connector, temp, data, {attrs: this.#attrs(info), what: path, fsync: false, signal})
      await this.#connector.run((session, attempt) => this.#replace(session, temp, full, attempt > 1), signal)
    } catch (error) {
      data.destroy()
      // Interrupted: the temporary file is removed in the background, the call returns at once.
      const cleanup = this.#connector.run((session) => session.unlink(temp)).catch(() => {})
      if (!signal?.aborted) await cleanup
      throw error
    }
  }

  /** Renames `temp` over `full`; a directory in the way is an error, never removed. */
  async #replace(session: SftpSession, temp: string, full: string, retried: boolean): Promise<void> {
    try {
      if (session.extensions.posixRename) await session.posixRename(temp, full)
      else {
        const existing = await session.lstat(full).catch(() => undefined)
        if (existing && !existing.isDirectory()) await session.unlink(full)
        await session.rename(temp, full)
      }
    } catch (error) {
      if ((error as SftpOpError).transient) throw error
      const target = await session.lstat(full).catch(() => undefined)
      if (retried && (error as SftpOpError).code === 'ENOENT' && target) return // done by an attempt whose reply was lost
      if (target?.isDirectory()) throw new PlakarError(`cannot restore ${full}: a directory exists there`)
      throw error
    }
  }

  async createLink(path: string, target: string, kind: 'symlink' | 'hardlink', info?: FileInfo, options?: CallOptions): Promise<void> {
    const full = this.#resolve(path)
    this.#refuseRoot(full, 'replace')
    const temp = posix.join(posix.dirname(full), `.${randomBytes(6).toString('hex')}.plakar-tmp`)
    await this.#connector.run(async (session, attempt) => {
      await this.#checkParents(session, full)
      if (kind === 'hardlink') {
        if (!session.extensions.hardlink) throw new PlakarError(`cannot restore hard link ${path}: the server does not support hardlink@openssh.com`)
        const source = this.#resolve(target)
        await this.#checkParents(session, source)
        const stats = await session.lstat(source).catch(() => undefined)
        if (!stats?.isFile()) throw new PlakarError(`refused hard link ${path}: its target is not a restored file`)
        await session.hardlink(source, temp)
      } else {
        await session.symlink(target, temp)
        // SETSTAT follows links: a symlink's own times and owner need lsetstat@openssh.com.
        if (info && session.extensions.lsetstat) {
          const {mode: _, ...attrs} = this.#attrs(info)
          if (Object.keys(attrs).length > 0) await session.lsetstat(temp, attrs)
        }
      }
      try {
        await this.#replace(session, temp, full, attempt > 1)
      } catch (error) {
        if (!session.lost) await session.unlink(temp).catch(() => {})
        throw error
      }
    }, options?.signal)
  }

  async setMetadata(path: string, info: FileInfo, options?: CallOptions): Promise<void> {
    const full = this.#resolve(path)
    await this.#connector.run(async (session) => {
      if (full !== this.root) await this.#checkParents(session, full)
      const stats = await session.lstat(full)
      if (stats.isSymbolicLink()) return
      const attrs: InputAttributes = {}
      if (this.#created.has(full) || !stats.isDirectory()) {
        if (info.mode !== undefined) attrs.mode = info.mode
        else if (stats.isDirectory()) attrs.mode = 0o755
        if (this.#asRoot && info.uid !== undefined && info.gid !== undefined) {
          attrs.uid = info.uid
          attrs.gid = info.gid
        }
      }
      if (info.mtime !== undefined) {
        attrs.mtime = Math.floor(info.mtime / 1000)
        attrs.atime = Math.floor((info.atime ?? info.mtime) / 1000)
      }
      if (Object.keys(attrs).length > 0) await session.setstat(full, attrs)
    }, options?.signal)
    this.#created.delete(full)
  }

  async close(): Promise<void> {
    await this.#connector.close()
  }
}

export default async function createExporter(context: ConnectorContext): Promise<Exporter> {
  const connector = SftpConnector.fromContext(context)
  try {
    const {root, created, asRoot} = await connector.run(async (session) => {
      const path = connector.location.path
      let existed = true
      const before = await session.lstat(path).catch((error: SftpOpError) => {
        if (error.transient) throw error
        existed = false
        return undefined
      })
      if (before && !before.isDirectory()) throw new PlakarError(`cannot restore into ${context.location}: it is not a directory`)
      if (!before) await mkdirp(session, path)
      const absolute = posix.normalize(await session.realpath(path))
      // Who we are on the server: the owner of what we create. Owners are restored only as root.
      const probe = posix.join(absolute, `.${randomBytes(6).toString('hex')}.plakar-probe`)
      let uid: number | undefined
      try {
        const handle = await session.open(probe, 'wx', {mode: 0o600})
        uid = (await session.fstat(handle)).uid
        await session.close(handle)
      } finally {
        await session.unlink(probe).catch(() => {})
      }
      return {root: absolute, created: !existed, asRoot: uid === 0}
    })
    return new SftpExporter(connector, root, created, asRoot)
  } catch (error) {
    await connector.close()
    if (error instanceof SftpOpError && !error.transient) throw new PlakarError(`cannot restore into ${context.location}: ${error.message}`)
    throw error
  }
}

/** Refuses a location createExporter would refuse (a password in it, no host), without connecting. */
export function checkLocation(location: string): void {
  parseSftpLocation(location)
}

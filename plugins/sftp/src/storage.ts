import {randomBytes} from 'node:crypto'
import {posix} from 'node:path'
import {Readable} from 'node:stream'
import {
  CONFIG_NAME,
  isObjectId,
  isShardName,
  isSharded,
  KINDS,
  kindDirectory,
  objectKey,
  ObjectNotFoundError,
  PlakarError,
  readAll,
  type CallOptions,
  type PutOptions,
  type ConnectorContext,
  type Id,
  type Kind,
  type Range,
  type Storage,
  type StorageCapabilities,
  type SweepResult,
} from '@plakar/sdk'
import {parseSftpLocation} from './location.js'
import {SftpConnector} from './connector.js'
import type {SftpOpError} from './errors.js'
import {mkdirp, readdirNames, readdirSizes} from './fsops.js'
import {OpenFiles} from './open-files.js'
import type {SftpSession} from './session.js'
import {downloadStream, upload} from './transfer.js'

/** Directories of packfiles listed at once. */
const LIST_PARALLEL = 8

const notFound = (error: unknown) => (error as SftpOpError)?.code === 'ENOENT'

/**
 * A repository in a directory of an SFTP server, in the SDK's layout as the fs storage
 * (layout.ts: CONFIG, packfiles/<first two hex digits>/<id>, states/<id>, locks/<id>;
 * a repository copied between a local disk and a server with rsync stays valid).
 *
 * A put streams to a temporary name in the destination directory, pipelining WRITE requests,
 * fsyncs it (fsync@openssh.com) and renames it over the final name with posix-rename@openssh.com
 * — plain SFTP rename refuses an existing target, and since the same id always has the same
 * bytes, an existing object of the right size is kept instead. Readers never see a partial
 * object. A lost connection is re-established and the operation retried; an upload is replayed
 * from what it already pulled from its source.
 */
export class SftpStorage implements Storage {
  readonly location: string
  readonly #connector: SftpConnector
  readonly #root: string
  readonly #made = new Set<string>()
  readonly #openFiles: OpenFiles

  constructor(connector: SftpConnector, location: string) {
    this.#connector = connector
    this.location = location
    this.#root = connector.location.path
    this.#openFiles = new OpenFiles(connector)
  }

  #path(kind: Kind, id: Id): string {
    return posix.join(this.#root, objectKey(kind, id))
  }

  async create(config: Uint8Array, options?: CallOptions): Promise<void> {
    const signal = options?.signal
    await this.#connector.run(async (session) => {
      await mkdirp(session, this.#root)
      const existing = (await readdirNames(session, this.#root)) ?? []
      if (existing.includes(CONFIG_NAME)) throw new PlakarError(`a repository already exists at ${this.location}`)
      if (existing.length > 0) throw new PlakarError(`cannot create a repository in ${this.location}: the directory is not empty`)
      for (const kind of KINDS) await mkdirp(session, posix.join(this.#root, kindDirectory(kind)))
    }, signal)
    await this.#write(posix.join(this.#root, CONFIG_NAME), Readable.from([Buffer.from(config)]), config.length, false, signal)
  }

  async open(options?: CallOptions): Promise<Uint8Array> {
    const path = posix.join(this.#root, CONFIG_NAME)
    const signal = options?.signal
    try {
      const opened = await this.#connector.run(async (session) => ({session, handle: await session.open(path, 'r')}), signal)
      return await readAll(downloadStream(this.#connector, path, {opened, what: `${this.location}/${CONFIG_NAME}`, signal}))
    } catch (error) {
      if (notFound(error)) throw new ObjectNotFoundError(`no repository at ${this.location}`)
      throw error
    }
  }

  /**
   * Upload to a temporary file, then posix-rename it over CONFIG (atomic on the server). A
   * plain SFTP rename refuses an existing target, and deleting CONFIG first would leave a moment
   * with no config at all: without the extension the config is left alone and the call fails.
   */
  async replaceConfig(config: Uint8Array, options?: CallOptions): Promise<void> {
    const signal = options?.signal
    await this.open(options)
    const path = posix.join(this.#root, CONFIG_NAME)
    const atomic = await this.#connector.run(async (session) => session.extensions.posixRename, signal)
    if (!atomic) {
      throw new PlakarError(
        `the SFTP server of ${this.location} cannot replace a file atomically (no posix-rename@openssh.com extension): the config was left unchanged`,
      )
    }
    const temp = posix.join(this.#root, `.CONFIG.${randomBytes(6).toString('hex')}.tmp`)
    let lostReply = false
    try {
      await upload(this.#connector, temp, Readable.from([Buffer.from(config)]), {size: config.length, what: temp, signal})
      await this.#connector.run(async (session, attempt) => {
        try {
          await session.posixRename(temp, path)
        } catch (error) {
          // A retry after a rename whose reply was lost: the temporary file is already CONFIG.
          if (!(error as SftpOpError).transient && attempt > 1 && notFound(error)) lostReply = true
          else throw error
        }
      }, signal)
    } catch (error) {
      await this.#connector.run((session) => session.unlink(temp)).catch(() => {})
      throw error
    }
    if (lostReply && !Buffer.from(await this.open()).equals(Buffer.from(config))) {
      throw new PlakarError(`replacing the config of ${this.location} failed: the temporary file vanished and CONFIG was not replaced`)
    }
  }

  async *list(kind: Kind, options?: CallOptions): AsyncGenerator<Id> {
    for await (const {id} of this.listWithSizes(kind, options)) yield id
  }

  async *listWithSizes(kind: Kind, options?: CallOptions): AsyncGenerator<{id: Id; size: number}> {
    const signal = options?.signal
    const base = posix.join(this.#root, kindDirectory(kind))
    const entries = (await this.#connector.run((session) => readdirSizes(session, base), signal)) ?? []
    if (!isSharded(kind)) {
      for (const {name, size} of entries) if (isObjectId(name)) yield {id: name, size}
      return
    }
    const subdirs = entries.map((e) => e.name).filter(isShardName)
    for (let i = 0; i < subdirs.length; i += LIST_PARALLEL) {
      const batch = await Promise.all(
        subdirs.slice(i, i + LIST_PARALLEL).map((sub) => this.#connector.run((session) => readdirSizes(session, posix.join(base, sub)), signal)),
      )
      for (const [index, listed] of batch.entries()) {
        const sub = subdirs[i + index]!
        for (const {name, size} of listed ?? []) if (isObjectId(name) && name.startsWith(sub)) yield {id: name, size}
      }
    }
  }

  async put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void> {
    const signal = options?.signal
    const path = this.#path(kind, id)
    if (!Number.isSafeInteger(size) || size < 0) throw new PlakarError(`invalid size ${size} for ${kind} ${id}`)
    if (kind !== 'lock') {
      // Idempotent: an object already there with its size is the same object (same id, same bytes).
      const existing = await this.#connector.run((session) => session.stat(path), signal).catch((error) => {
        if (notFound(error)) return undefined
        throw error
      })
      if (existing?.size === size) {
        data.destroy()
        return
      }
    }
    await this.#write(path, data, size, true, signal)
  }

  /** Uploads to a temporary name next to `path`, then renames it into place. */
  async #write(path: string, data: Readable, size: number, replace: boolean, signal?: AbortSignal): Promise<void> {
    const dir = posix.dirname(path)
    const temp = posix.join(dir, `.${posix.basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
    try {
      if (!this.#made.has(dir)) {
        await this.#connector.run((session) => mkdirp(session, dir), signal)
        this.#made.add(dir)
      }
      await upload(this.#connector, temp, data, {size, what: temp, signal})
      await this.#connector.run((session, attempt) => this.#publish(session, temp, path, size, replace, attempt > 1), signal)
    } catch (error) {
      data.destroy()
      // Interrupted: the temporary file goes in the background (a later sweep takes it if not).
      const cleanup = this.#connector.run((session) => session.unlink(temp)).catch(() => {})
      if (!signal?.aborted) await cleanup
      throw error
    }
  }

  async #publish(session: SftpSession, temp: string, path: string, size: number, replace: boolean, retried: boolean): Promise<void> {
    try {
      if (replace && session.extensions.posixRename) await session.posixRename(temp, path)
      else await session.rename(temp, path)
      return
    } catch (error) {
      if ((error as SftpOpError).transient) throw error
      const existing = await session.stat(path).catch(() => undefined)
      // A retry after a rename whose reply was lost: the temporary file is already in place.
      if (retried && notFound(error) && existing?.size === size) return
      if (!existing) throw error
      if (!replace) throw new PlakarError(`a repository already exists at ${this.location}`)
      if (existing.size === size) {
        await session.unlink(temp).catch(() => {})
        return
      }
      // A damaged copy (wrong size) on a server without posix-rename: replace it, not atomically.
      await session.unlink(path)
      await session.rename(temp, path)
    }
  }

  async get(kind: Kind, id: Id, range?: Range, options?: CallOptions): Promise<Readable> {
    const path = this.#path(kind, id)
    const signal = options?.signal
    let opened
    try {
      // Range reads of packfiles (restore, check of a snapshot) borrow a kept-open handle.
      opened =
        kind === 'packfile' && range
          ? await this.#openFiles.lease(path)
          : await this.#connector.run(async (session) => ({session, handle: await session.open(path, 'r')}), signal)
    } catch (error) {
      if (notFound(error)) throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
    const what = `${kind} ${id}`
    if (!range) return downloadStream(this.#connector, path, {opened, what, signal})
    if (!(range.offset >= 0 && range.length >= 0)) {
      ;(opened as {release?: () => void}).release?.()
      throw new PlakarError(`invalid range ${range.offset}+${range.length} of ${what}`)
    }
    return downloadStream(this.#connector, path, {
      opened,
      what,
      signal,
      offset: range.offset,
      length: range.length,
      check: (size) => {
        if (range.offset + range.length > size) throw new PlakarError(`range ${range.offset}+${range.length} is outside ${what} (${size} bytes)`)
      },
    })
  }

  async stat(kind: Kind, id: Id, options?: CallOptions): Promise<{size: number}> {
    const path = this.#path(kind, id)
    try {
      const stats = await this.#connector.run((session) => session.stat(path), options?.signal)
      return {size: stats.size}
    } catch (error) {
      if (notFound(error)) throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
  }

  async delete(kind: Kind, id: Id, options?: CallOptions): Promise<void> {
    const path = this.#path(kind, id)
    this.#openFiles.drop(path)
    await this.#connector.run((session) => session.unlink(path), options?.signal).catch((error) => {
      if (!notFound(error)) throw error
    })
  }

  capabilities(): StorageCapabilities {
    return {write: true, delete: true}
  }

  /**
   * Temporary files of uploads that never finished (`.<final name>.<12 hex digits>.tmp`): a
   * killed process, a lost connection whose cleanup failed too. An upload in progress keeps
   * changing its file's mtime (the server's clock: the age must be generous).
   */
  async sweep(olderThanMs: number, options?: CallOptions): Promise<SweepResult> {
    options?.signal?.throwIfAborted()
    const result: SweepResult = {objects: 0, bytes: 0}
    const temp = /^\.(CONFIG|[0-9a-f]{16,128})\.[0-9a-f]{12}\.tmp$/
    const dirs = [this.#root, posix.join(this.#root, kindDirectory('state')), posix.join(this.#root, kindDirectory('lock'))]
    const packs = posix.join(this.#root, kindDirectory('packfile'))
    const subs = (await this.#connector.run((session) => readdirNames(session, packs))) ?? []
    for (const sub of subs) if (isShardName(sub)) dirs.push(posix.join(packs, sub))
    for (const dir of dirs) {
      const names = (await this.#connector.run((session) => readdirNames(session, dir))) ?? []
      for (const name of names) {
        if (!temp.test(name)) continue
        const path = posix.join(dir, name)
        const info = await this.#connector.run((session) => session.lstat(path)).catch(() => undefined)
        if (!info || !info.isFile() || info.mtime * 1000 > Date.now() - olderThanMs) continue
        await this.#connector.run((session) => session.unlink(path)).then(
          () => {
            result.objects++
            result.bytes += info.size
          },
          (error) => {
            if (!notFound(error)) throw error
          },
        )
      }
    }
    return result
  }

  async close(): Promise<void> {
    this.#openFiles.closeAll()
    await this.#connector.close()
  }
}

export default async function createStorage(context: ConnectorContext): Promise<Storage> {
  return new SftpStorage(SftpConnector.fromContext(context), context.location)
}

/** Refuses a location createStorage would refuse (a password in it, no host), without connecting. */
export function checkLocation(location: string): void {
  parseSftpLocation(location)
}

import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {mkdir, open, readdir, readFile, rename, stat, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {
  destroyOnAbort,
  CONFIG_NAME,
  isObjectId,
  isShardName,
  isSharded,
  KINDS,
  kindDirectory,
  objectDirectory,
  objectKey,
  ObjectNotFoundError,
  PlakarError,
  UsageError,
  type CallOptions,
  type ConnectorContext,
  type PutOptions,
  type Id,
  type Kind,
  type Range,
  type Storage,
  type StorageCapabilities,
} from '@plakar/sdk'
import type {Config} from './config.js'

export {schema} from './config.js'

/**
 * Where a repository lives. The skeleton keeps it in a directory of this host (location
 * `{{scheme}}:/some/path`), named as every plakar storage names them (the SDK's layout: CONFIG,
 * packfiles/<first two hex digits>/<id>, states/<id>, locks/<id>), one file per object.
 * To keep it elsewhere (a key-value store, an internal object service), keep the rules the
 * conformance suite checks: a put is atomic (readers see the whole object or nothing, and a
 * failed put leaves nothing) and idempotent; a missing object is an ObjectNotFoundError (or any
 * error with `notFound: true` or `code: 'ENOENT'`); every method may be called concurrently.
 * The repository's content is already encrypted and authenticated by plakar: a storage only
 * keeps bytes.
 */
export class DirectoryStorage implements Storage {
  readonly localPath: string

  constructor(
    readonly location: string,
    root: string,
    private readonly config: Config,
  ) {
    this.localPath = root
  }

  #path(kind: Kind, id: Id): string {
    return join(this.localPath, objectKey(kind, id))
  }

  /** Writes to a temporary file outside the listed directories, then renames it into place. */
  async #write(target: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size?: number): Promise<void> {
    const temp = join(this.localPath, 'tmp', `${randomBytes(8).toString('hex')}.tmp`)
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    try {
      let written = 0
      for await (const chunk of data) {
        for (let done = 0; done < chunk.length; ) done += (await handle.write(chunk, done)).bytesWritten
        written += chunk.length
      }
      if (size !== undefined && written !== size) throw new PlakarError(`short write: expected ${size} bytes, got ${written}`)
      if (this.config.fsync) await handle.sync()
      await handle.close()
      await rename(temp, target)
    } catch (error) {
      await handle.close().catch(() => {})
      await unlink(temp).catch(() => {})
      throw error
    }
  }

  async create(config: Uint8Array): Promise<void> {
    await mkdir(this.localPath, {recursive: true, mode: 0o700})
    if ((await readdir(this.localPath)).length > 0) throw new PlakarError(`cannot create a repository in ${this.location}: it is not empty`)
    for (const dir of [...KINDS.map(kindDirectory), 'tmp']) await mkdir(join(this.localPath, dir), {mode: 0o700})
    await this.#write(join(this.localPath, CONFIG_NAME), [config])
  }

  async open(): Promise<Uint8Array> {
    try {
      return await readFile(join(this.localPath, CONFIG_NAME))
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes((error as {code?: string}).code ?? '')) throw new ObjectNotFoundError(`no repository at ${this.location}`)
      throw error
    }
  }

  /** A temporary file renamed over CONFIG: a crash leaves the old config or the new one. */
  async replaceConfig(config: Uint8Array): Promise<void> {
    await this.open()
    await this.#write(join(this.localPath, CONFIG_NAME), [config])
  }

  async *list(kind: Kind): AsyncGenerator<Id> {
    const dir = join(this.localPath, kindDirectory(kind))
    const names = await readNames(dir)
    if (!isSharded(kind)) {
      for (const name of names) if (isObjectId(name)) yield name
      return
    }
    for (const shard of names.filter(isShardName)) {
      for (const name of await readNames(join(dir, shard))) if (isObjectId(name) && name.startsWith(shard)) yield name
    }
  }

  /**
   * `options.signal` is aborted on Ctrl-C: stop promptly. Destroying the source with the signal
   * (destroyOnAbort) ends the write loop even while it waits for data; a remote storage would
   * also pass the signal to its requests (fetch, an SDK's abortSignal).
   */
  async put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    destroyOnAbort(data, options?.signal)
    const path = this.#path(kind, id)
    if (isSharded(kind)) await mkdir(join(this.localPath, objectDirectory(kind, id)), {recursive: true, mode: 0o700})
    await this.#write(path, data, size)
  }

  async get(kind: Kind, id: Id, range?: Range, options?: CallOptions): Promise<Readable> {
    options?.signal?.throwIfAborted()
    const stream = await this.#read(kind, id, range)
    return destroyOnAbort(stream, options?.signal)
  }

  async #read(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    const path = this.#path(kind, id)
    const handle = await open(path, 'r').catch((error) => {
      throw (error as {code?: string}).code === 'ENOENT' ? new ObjectNotFoundError(`${kind} ${id} not found`) : error
    })
    if (!range) return handle.createReadStream({highWaterMark: 1024 * 1024})
    const {size} = await handle.stat()
    if (range.offset < 0 || range.length < 0 || range.offset + range.length > size) {
      await handle.close()
      throw new PlakarError(`range ${range.offset}+${range.length} is outside ${kind} ${id} (${size} bytes)`)
    }
    if (range.length === 0) {
      await handle.close()
      return Readable.from([])
    }
    return handle.createReadStream({start: range.offset, end: range.offset + range.length - 1, highWaterMark: 1024 * 1024})
  }

  async stat(kind: Kind, id: Id, options?: CallOptions): Promise<{size: number}> {
    options?.signal?.throwIfAborted()
    try {
      return {size: (await stat(this.#path(kind, id))).size}
    } catch (error) {
      if ((error as {code?: string}).code === 'ENOENT') throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
  }

  async delete(kind: Kind, id: Id): Promise<void> {
    await unlink(this.#path(kind, id)).catch((error) => {
      if ((error as {code?: string}).code !== 'ENOENT') throw error
    })
  }

  capabilities(): StorageCapabilities {
    return {write: true, delete: true}
  }

  async close(): Promise<void> {}
}

/** The names in a directory; none when it does not exist. */
async function readNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (error) {
    if ((error as {code?: string}).code === 'ENOENT') return []
    throw error
  }
}

/** "{{scheme}}:/abs/path", "{{scheme}}:///abs/path" → "/abs/path". */
function pathOf(location: string): string {
  const path = location.replace(/^[a-z][a-z0-9+.-]*:(\/\/)?/i, '')
  if (!path.startsWith('/')) throw new UsageError(`{{scheme}}: expected an absolute path, as in {{scheme}}:/srv/repository (got ${JSON.stringify(location)})`)
  return path
}

/** What plakar calls: the options in `context.config` have passed the schema of config.ts. */
export default async function createStorage(context: ConnectorContext<Config>): Promise<Storage> {
  return new DirectoryStorage(context.location, pathOf(context.location), context.config)
}

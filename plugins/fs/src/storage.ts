import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {lstat, mkdir, open, readdir, readFile, rename, stat, unlink} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {Readable} from 'node:stream'
import {
  destroyOnAbort,
  CONFIG_NAME,
  isObjectId,
  isShardName,
  KINDS,
  kindDirectory,
  objectDirectory,
  objectKey,
  ObjectNotFoundError,
  PlakarError,
  type CallOptions,
  type ConnectorContext,
  type PutOptions,
  type Id,
  type Kind,
  type Range,
  type ReadIntoOptions,
  type Storage,
  type StorageCapabilities,
  type SweepResult,
} from '@plakar/sdk'
import {fsPath} from './location.js'
import {writeAll} from './write.js'

/** Bytes per read system call of readInto: an abort is noticed between them. */
const READ_INTO_PIECE = 4 * 1024 * 1024

/** Temporary files of #write: `<final name>.<12 hex digits>.tmp`. */
const TEMP = /^(CONFIG|[0-9a-f]{16,128})\.[0-9a-f]{12}\.tmp$/

/**
 * A repository in a local directory, in the SDK's layout (layout.ts: CONFIG,
 * packfiles/<first two hex digits>/<id>, states/<id>, locks/<id>).
 * Writes go to a temporary file in the destination directory, are fsynced, then renamed into
 * place: a reader sees a whole object or none, and a crash leaves only a temporary file behind.
 */
export class FsStorage implements Storage {
  readonly location: string
  readonly localPath: string

  constructor(root: string) {
    this.location = root
    this.localPath = root
  }

  #path(kind: Kind, id: Id): string {
    return join(this.localPath, objectKey(kind, id))
  }

  async create(config: Uint8Array, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await mkdir(this.localPath, {recursive: true, mode: 0o700})
    const existing = await readdir(this.localPath)
    if (existing.includes(CONFIG_NAME)) throw new PlakarError(`a repository already exists at ${this.localPath}`)
    if (existing.length > 0) throw new PlakarError(`cannot create a repository in ${this.localPath}: the directory is not empty`)
    for (const kind of KINDS) await mkdir(join(this.localPath, kindDirectory(kind)), {mode: 0o700})
    await this.#write(join(this.localPath, CONFIG_NAME), [config])
  }

  async open(options?: CallOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    try {
      return await readFile(join(this.localPath, CONFIG_NAME))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw new ObjectNotFoundError(`no repository at ${this.localPath}`)
      }
      throw error
    }
  }

  /** Same as every write: a temporary file, fsynced, renamed over CONFIG, the directory fsynced. */
  async replaceConfig(config: Uint8Array, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await this.open()
    await this.#write(join(this.localPath, CONFIG_NAME), [config])
  }

  async *list(kind: Kind, options?: CallOptions): AsyncGenerator<Id> {
    options?.signal?.throwIfAborted()
    const base = join(this.localPath, kindDirectory(kind))
    const names = await readdir(base).catch((error) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[]
      throw error
    })
    if (kind !== 'packfile') {
      for (const name of names) if (isObjectId(name)) yield name
      return
    }
    for (const sub of names) {
      options?.signal?.throwIfAborted()
      if (!isShardName(sub)) continue
      for (const name of await readdir(join(base, sub)).catch(() => [] as string[])) if (isObjectId(name) && name.startsWith(sub)) yield name
    }
  }

  async *listWithSizes(kind: Kind): AsyncGenerator<{id: Id; size: number}> {
    for await (const id of this.list(kind)) {
      const size = await stat(this.#path(kind, id)).then(
        (s) => s.size,
        () => undefined,
      )
      // Deleted since the listing: it is not listed.
      if (size !== undefined) yield {id, size}
    }
  }

  async put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const path = this.#path(kind, id)
    if (kind === 'packfile') {
      const created = await mkdir(join(this.localPath, objectDirectory(kind, id)), {recursive: true, mode: 0o700})
      // A new fan-out directory must survive a power cut too, or the packfile in it is lost
      // while the state naming it is not.
      if (created !== undefined) await syncDirectory(join(this.localPath, kindDirectory(kind)))
    }
    // An abort destroys the source, so a put waiting for its next chunk ends too.
    destroyOnAbort(data, options?.signal)
    await this.#write(path, data, size, options?.signal)
  }

  async #write(path: string, data: Readable | Uint8Array[], size?: number, signal?: AbortSignal): Promise<void> {
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    try {
      // Packfiles arrive as one buffer per blob: write them in batches of about 1 MiB.
      let written = 0
      let batch: Uint8Array[] = []
      let batched = 0
      for await (const part of data as AsyncIterable<Uint8Array>) {
        // Local writes cannot be cancelled one by one: an abort stops the put between chunks.
        signal?.throwIfAborted()
        batch.push(part)
        batched += part.length
        if (batched >= 1024 * 1024) {
          await writeAll(handle, batch)
          written += batched
          batch = []
          batched = 0
        }
      }
      await writeAll(handle, batch)
      written += batched
      if (size !== undefined && written !== size) throw new PlakarError(`short write: expected ${size} bytes, got ${written}`)
      await handle.sync()
    } catch (error) {
      await handle.close().catch(() => {})
      await unlink(temp).catch(() => {})
      throw error
    }
    await handle.close()
    await rename(temp, path)
    // The rename itself must survive a power cut before anyone relies on the object (a state
    // naming a packfile is written only after the packfile's put resolved).
    await syncDirectory(dirname(path))
  }

  async get(kind: Kind, id: Id, range?: Range, options?: CallOptions): Promise<Readable> {
    const stream = await this.#open(kind, id, range)
    return destroyOnAbort(stream, options?.signal)
  }

  async #open(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    const path = this.#path(kind, id)
    let handle
    try {
      handle = await open(path, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
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

  async readInto(kind: Kind, id: Id, into: Uint8Array, options?: ReadIntoOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const start = options?.offset ?? 0
    // A whole object must end where `into` does; a window of one only has to be there.
    const whole = options?.offset === undefined
    let handle
    try {
      handle = await open(this.#path(kind, id), 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
    try {
      let at = 0
      for (;;) {
        // One byte past the end is asked for too: a longer object is as wrong as a shorter one.
        const want = Math.min(into.length - at, READ_INTO_PIECE)
        if (want === 0 && !whole) break
        const {bytesRead} = want > 0 ? await handle.read(into, at, want, start + at) : await handle.read(Buffer.alloc(1), 0, 1, start + at)
        if (bytesRead === 0) break
        at += bytesRead
        if (at > into.length) break
        options?.signal?.throwIfAborted()
      }
      if (at !== into.length) {
        const what = whole ? `${kind} ${id} is ${at > into.length ? 'longer' : `${at} bytes`}, not ${into.length} bytes as expected` : `${kind} ${id} ends ${at} bytes after offset ${start}, before the ${into.length} bytes asked for`
        throw Object.assign(new PlakarError(what), {code: 'ESHORTREAD'})
      }
    } finally {
      await handle.close()
    }
  }

  async stat(kind: Kind, id: Id, options?: CallOptions): Promise<{size: number}> {
    options?.signal?.throwIfAborted()
    try {
      return {size: (await stat(this.#path(kind, id))).size}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
  }

  async delete(kind: Kind, id: Id, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await unlink(this.#path(kind, id)).catch((error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    })
  }

  capabilities(): StorageCapabilities {
    return {write: true, delete: true}
  }

  /**
   * Temporary files of writes that never finished (the process was killed, the disk filled
   * up and the cleanup failed too). A write in progress keeps changing its file's mtime, so a
   * file untouched for `olderThanMs` is abandoned.
   */
  async sweep(olderThanMs: number, options?: CallOptions): Promise<SweepResult> {
    options?.signal?.throwIfAborted()
    const result: SweepResult = {objects: 0, bytes: 0}
    const cutoff = Date.now() - olderThanMs
    const dirs = [this.localPath, join(this.localPath, kindDirectory('state')), join(this.localPath, kindDirectory('lock'))]
    const packs = join(this.localPath, kindDirectory('packfile'))
    for (const sub of await readdir(packs).catch(() => [] as string[])) if (isShardName(sub)) dirs.push(join(packs, sub))
    for (const dir of dirs) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!TEMP.test(name)) continue
        const path = join(dir, name)
        const info = await lstat(path).catch(() => undefined)
        if (!info?.isFile() || info.mtimeMs > cutoff) continue
        try {
          await unlink(path)
          result.objects++
          result.bytes += info.size
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        }
      }
    }
    return result
  }

  async close(): Promise<void> {}
}

export default async function createStorage(context: ConnectorContext): Promise<Storage> {
  return new FsStorage(fsPath(context.location))
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** An in-memory Storage for engine tests, with hooks to make chosen operations fail or wait. */
import {Readable} from 'node:stream'
import {type Id, type Kind, ObjectNotFoundError, PlakarError, type PutOptions, type Range, readAll, type Storage, type StorageCapabilities} from '@plakar/sdk'

export class MemoryStorage implements Storage {
  readonly location = 'memory:'
  config?: Uint8Array
  readonly objects: Record<Kind, Map<Id, Buffer>> = {packfile: new Map(), state: new Map(), lock: new Map()}
  /** What the engine said about each packfile it stored. */
  readonly putOptions = new Map<Id, PutOptions | undefined>()
  /** Called before each put; may throw to make it fail, or wait. */
  beforePut?: (kind: Kind, id: Id) => void | Promise<void>
  /** Called before each get, whole or ranged; may throw to make it fail, or wait. */
  beforeGet?: (kind: Kind, id: Id, range?: Range) => void | Promise<void>
  /** Called before each delete; may throw to make it fail, or wait. */
  beforeDelete?: (kind: Kind, id: Id) => void | Promise<void>
  /** What capabilities() declares: a test makes the storage read-only or append-only. */
  declared: StorageCapabilities = {write: true, delete: true}

  async create(config: Uint8Array): Promise<void> {
    if (this.config) throw new PlakarError('a repository already exists')
    this.config = config
  }

  async open(): Promise<Uint8Array> {
    if (!this.config) throw new ObjectNotFoundError('no repository')
    return this.config
  }

  async replaceConfig(config: Uint8Array): Promise<void> {
    if (!this.config) throw new ObjectNotFoundError('no repository')
    this.config = config
  }

  async *list(kind: Kind): AsyncGenerator<Id> {
    yield* [...this.objects[kind].keys()]
  }

  async *listWithSizes(kind: Kind): AsyncGenerator<{id: Id; size: number}> {
    for (const [id, bytes] of [...this.objects[kind]]) yield {id, size: bytes.length}
  }

  async put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void> {
    if (kind === 'packfile') this.putOptions.set(id, options)
    const bytes = await readAll(data)
    if (bytes.length !== size) throw new PlakarError(`short write: ${bytes.length} of ${size}`)
    await this.beforePut?.(kind, id)
    this.objects[kind].set(id, bytes)
  }

  async get(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    await this.beforeGet?.(kind, id, range)
    const bytes = this.objects[kind].get(id)
    if (!bytes) throw new ObjectNotFoundError(`${kind} ${id} not found`)
    if (!range) return Readable.from([bytes])
    if (range.offset + range.length > bytes.length) throw new PlakarError('range past the end')
    return Readable.from([bytes.subarray(range.offset, range.offset + range.length)])
  }

  async stat(kind: Kind, id: Id): Promise<{size: number}> {
    const bytes = this.objects[kind].get(id)
    if (!bytes) throw new ObjectNotFoundError(`${kind} ${id} not found`)
    return {size: bytes.length}
  }

  async delete(kind: Kind, id: Id): Promise<void> {
    await this.beforeDelete?.(kind, id)
    this.objects[kind].delete(id)
  }

  capabilities(): StorageCapabilities {
    return {...this.declared}
  }

  async close(): Promise<void> {}
}

import {Readable} from 'node:stream'
import {NotFoundError} from '../errors.js'
import {BlobType} from '../format/blob-type.js'
import {decode} from '../format/codec.js'
import type {SnapshotHeader} from '../format/snapshot.js'
import type {Repository} from '../repository/repository.js'
import {TreeReader} from '../tree/btree.js'
import {decodeEntry, type ChunkRef, type Entry} from '../tree/entry.js'
import {descendantsStart, keyToPath, pathToKey, resolveUserPath, subtreeEnd} from '../tree/path-key.js'

/** Read access to one snapshot: its header, its file tree and its indexes. */
export class Snapshot {
  readonly repo: Repository
  readonly header: SnapshotHeader
  readonly vfs: TreeReader
  readonly names: TreeReader
  readonly types: TreeReader

  constructor(repo: Repository, header: SnapshotHeader) {
    this.repo = repo
    this.header = header
    this.vfs = new TreeReader(repo.nodeReader, BlobType.VFS_NODE, Buffer.from(header.trees.vfs), repo.nodeCache)
    this.names = new TreeReader(repo.nodeReader, BlobType.NAME_NODE, Buffer.from(header.trees.names), repo.nodeCache)
    this.types = new TreeReader(repo.nodeReader, BlobType.TYPE_NODE, Buffer.from(header.trees.types), repo.nodeCache)
  }

  get id(): string {
    return Buffer.from(this.header.id).toString('hex')
  }

  get root(): string {
    return this.header.importer.root
  }

  /** A user path ("sub/file", "/abs/path") as a snapshot path. */
  resolve(path: string | undefined): string {
    return path === undefined || path === '' ? this.root : resolveUserPath(path, this.root)
  }

  async entry(path: string): Promise<Entry | undefined> {
    const value = await this.vfs.get(pathToKey(path))
    return value ? decodeEntry(value) : undefined
  }

  async requireEntry(path: string): Promise<Entry> {
    const entry = await this.entry(path)
    if (!entry) throw new NotFoundError(`${path}: no such file or directory in snapshot ${this.id.slice(0, 8)}`)
    return entry
  }

  /** The entry at `path` and everything below it, parents before children. */
  async *walk(path: string): AsyncGenerator<[string, Entry]> {
    const key = pathToKey(path)
    for await (const [k, v] of this.vfs.scan(key, subtreeEnd(key))) yield [keyToPath(k), decodeEntry(v)]
  }

  /** Direct children of a directory, in name order: each child's subtree is skipped by a seek. */
  async *children(path: string): AsyncGenerator<[string, Entry]> {
    const key = pathToKey(path)
    let from = descendantsStart(key)
    const end = subtreeEnd(key)
    for (;;) {
      const next = await this.vfs.scan(from, end).next()
      if (next.done) return
      const [k, v] = next.value
      yield [keyToPath(k), decodeEntry(v)]
      from = subtreeEnd(k)
    }
  }

  /** The chunk list of a file. */
  async chunks(entry: Entry): Promise<ChunkRef[]> {
    if (entry.chunks) return entry.chunks
    if (entry.object) return decode<ChunkRef[]>(await this.repo.readBlob(BlobType.OBJECT, Buffer.from(entry.object)))
    return []
  }

  /** A file's content, fetched chunk by chunk with a few chunks read ahead. */
  async open(entry: Entry): Promise<Readable> {
    const refs = await this.chunks(entry)
    const repo = this.repo
    async function* content(): AsyncGenerator<Buffer> {
      const ahead = 4
      const inflight: Promise<Buffer>[] = []
      let next = 0
      while (next < refs.length || inflight.length > 0) {
        while (next < refs.length && inflight.length < ahead) {
          const p = repo.readBlob(BlobType.CHUNK, Buffer.from(refs[next++][0]))
          p.catch(() => {})
          inflight.push(p)
        }
        yield await inflight.shift()!
      }
    }
    return Readable.from(content(), {objectMode: false})
  }
}

export async function loadSnapshot(repo: Repository, idPrefix: string): Promise<Snapshot> {
  return new Snapshot(repo, await repo.findSnapshot(idPrefix))
}

/** Splits "ID:PATH" into its parts; PATH may be absent. */
export function parseSnapshotPath(spec: string): {id: string; path?: string} {
  const colon = spec.indexOf(':')
  if (colon < 0) return {id: spec}
  return {id: spec.slice(0, colon), path: spec.slice(colon + 1)}
}

import {Readable} from 'node:stream'
import {type Budget, NotFoundError} from '@plakar/sdk'
import {BlobType} from '../format/blob-type.js'
import {decode} from '../format/codec.js'
import type {SnapshotHeader} from '../format/snapshot.js'
import type {Repository} from '../repository/repository.js'
import {TreeReader} from '../tree/btree.js'
import {decodeEntry, type ChunkRef, type Entry} from '../tree/entry.js'
import {descendantsStart, keyToPath, pathToKey, resolveUserPath, subtreeEnd} from '../tree/path-key.js'

/** Bytes [start, end) of a file. */
export interface ByteRange {
  start: number
  end: number
}

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
  async *walk(path: string, onDamaged?: (firstLostPath: string, error: unknown) => void): AsyncGenerator<[string, Entry]> {
    const key = pathToKey(path)
    const damaged = onDamaged && ((k: Buffer, error: unknown) => onDamaged(keyToPath(k), error))
    for await (const [k, v] of this.vfs.scan(key, subtreeEnd(key), damaged)) yield [keyToPath(k), decodeEntry(v)]
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
    if (entry.object) return decode<ChunkRef[]>(await this.repo.reader.read(BlobType.OBJECT, Buffer.from(entry.object)))
    return []
  }

  /**
   * A file's content, or the bytes [start, end) of it, through the repository's blob reader
   * (BlobReader.chunks: neighbouring chunks fetched as one range, the next ranges read ahead). A byte range fetches only the chunks it overlaps, so a video
   * player seeking in a large file (HTTP range requests) reads a few chunks, not the file.
   * Streams opened with one `readAhead` budget hold at most that much between them.
   */
  async open(entry: Entry, range?: ByteRange, options: {readAhead?: Budget} = {}): Promise<Readable> {
    return Readable.from(await this.content(entry, range, options), {objectMode: false})
  }

  /** What `open` streams, as the chunks come (for a consumer that takes an async iterable). */
  async content(entry: Entry, range?: ByteRange, options: {readAhead?: Budget} = {}): Promise<AsyncGenerator<Buffer>> {
    let refs = await this.chunks(entry)
    // Bytes to drop from the first chunk kept, and bytes to keep of the last.
    let skipFirst = 0
    let keepLast = -1
    if (range) {
      const size = refs.reduce((n, [, length]) => n + length, 0)
      const start = Math.max(0, range.start)
      const end = Math.min(size, range.end)
      if (end <= start) return (async function* () {})()
      const kept: ChunkRef[] = []
      let offset = 0
      for (const ref of refs) {
        const next = offset + ref[1]
        if (next > start && offset < end) {
          if (kept.length === 0) skipFirst = start - offset
          kept.push(ref)
          keepLast = end - offset
        }
        offset = next
        if (offset >= end) break
      }
      refs = kept
    }
    const chunks = this.repo.reader.chunks(refs.map(([mac]) => mac), {readAhead: options.readAhead})
    const count = refs.length
    async function* content(): AsyncGenerator<Buffer> {
      let index = 0
      for await (let chunk of chunks) {
        if (index === count - 1 && keepLast >= 0) chunk = chunk.subarray(0, keepLast)
        if (index === 0 && skipFirst > 0) chunk = chunk.subarray(skipFirst)
        index++
        yield chunk
      }
    }
    return content()
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

import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {Id, Importer, Kind, Range} from '@plakar/sdk'
import {backup} from '../../src/engine/backup.js'
import {Snapshot} from '../../src/engine/snapshot.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

/** Counts the packfile reads that reach the storage. */
class CountingStorage extends MemoryStorage {
  packfileReads = 0
  override async get(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    if (kind === 'packfile') this.packfileReads++
    return super.get(kind, id, range)
  }
}

describe('blob reader', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-reader-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('reads a tree walked in order with a few storage reads, not one per node', async () => {
    const storage = new CountingStorage()
    await Repository.create(storage, {})
    const files = 20_000
    const importer: Importer = {
      type: 'test',
      origin: 'here',
      root: '/r',
      async *scan() {
        yield {path: '/r', info: {type: 'directory', size: 0}}
        for (let i = 0; i < files; i++) yield {path: `/r/f${i}`, info: {type: 'file', size: 0, mode: 0o644, mtime: i}, open: async () => Readable.from([])}
      },
      async close() {},
    }
    const first = await Repository.open(storage, {cacheDir: join(dir, 'a'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    const result = await backup(first, [importer], {tmpDir: dir})
    let nodes = 0
    for await (const _ of new Snapshot(first, result.snapshot!).vfs.nodes()) nodes++
    await first.close()

    // A client of its own: nothing cached in memory.
    const repo = await Repository.open(storage, {cacheDir: join(dir, 'a'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    try {
      const snapshot = new Snapshot(repo, result.snapshot!)
      storage.packfileReads = 0
      let walked = 0
      for await (const [path] of snapshot.walk('/r')) if (path.startsWith('/r/f')) walked++
      expect(walked).toBe(files)
      // Hundreds of nodes, read through a handful of windows.
      expect(nodes).toBeGreaterThan(100)
      expect(storage.packfileReads).toBeLessThan(nodes / 10)
    } finally {
      await repo.close()
    }
  })
})

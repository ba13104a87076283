import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {backup} from '../../src/engine/backup.js'
import {allSnapshots, check} from '../../src/engine/check.js'
import {BlobType} from '../../src/format/blob-type.js'
import type {Importer, ImportRecord} from '../../src/interfaces/importer.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

function importer(records: ImportRecord[]): Importer {
  return {type: 'test', origin: 'here', root: '/r', async *scan() {
    yield* records
  }, async close() {}}
}

function file(path: string, content: string): ImportRecord {
  const data = Buffer.from(content)
  return {path, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1}, open: async () => Readable.from([data])}
}

describe('check', () => {
  let dir: string
  let storage: MemoryStorage
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-check-'))
    storage = new MemoryStorage()
    await Repository.create(storage, {})
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  const open = (cache: string) => Repository.open(storage, {cacheDir: join(dir, cache), passphrase: async () => Buffer.alloc(0), logger: quiet})

  /** Flips one byte of the first stored blob of `type`. */
  const corrupt = (repo: Repository, type: number) => {
    const pack = repo.cache.packfiles().find((p) => repo.cache.blobsOfPack(p.id).some((b) => b.type === type))!
    const blob = repo.cache.blobsOfPack(pack.id).find((b) => b.type === type)!
    storage.objects.packfile.get(pack.id)![blob.offset + 1] ^= 1
  }

  for (const [name, type] of [['name index', BlobType.NAME_NODE], ['type index', BlobType.TYPE_NODE]] as const) {
    it(`finds a damaged ${name}`, async () => {
      const writer = await open('writer')
      await backup(writer, [importer([{path: '/r', info: {type: 'directory', size: 0}}, file('/r/a.txt', 'hello\n')])], {tmpDir: dir})
      corrupt(writer, type)
      await writer.close()

      const repo = await open('reader')
      try {
        const {targets, problems} = await allSnapshots(repo)
        const result = await check(repo, targets, {problems})
        // The index is named, and so is the metadata packfile holding the damaged node.
        const messages = result.problems.map((p) => p.message).sort()
        expect(messages).toEqual([expect.stringMatching(/^packfile [0-9a-f]{64} does not match its id/), expect.stringMatching(new RegExp(`its ${name} is damaged`))])
      } finally {
        await repo.close()
      }
    })
  }
})

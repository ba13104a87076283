import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {exitCodeOf, ExitCode, readAll, type Importer} from '@plakar/sdk'
import {backup} from '../../src/engine/backup.js'
import {maintain} from '../../src/engine/maintenance.js'
import {changePassphrase} from '../../src/engine/passphrase.js'
import {removeSnapshots} from '../../src/engine/remove.js'
import {listSnapshots, openSnapshot, selectSnapshots} from '../../src/engine/selection.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

function importer(files: Record<string, Buffer>): Importer {
  return {
    type: 'test',
    origin: 'here',
    root: '/data',
    async *scan() {
      yield {path: '/data', info: {type: 'directory', size: 0}}
      for (const [name, data] of Object.entries(files)) {
        yield {path: `/data/${name}`, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1000}, open: async () => Readable.from([data])}
      }
    },
    async close() {},
  }
}

/** Every object the storage holds, by kind, with its bytes: what "nothing changed" compares. */
function snapshotOf(storage: MemoryStorage): string {
  const parts = Object.entries(storage.objects).map(([kind, objects]) => `${kind}:${[...objects].map(([id, b]) => `${id}=${b.toString('base64')}`).sort().join(',')}`)
  return `${Buffer.from(storage.config ?? []).toString('base64')}|${parts.join('|')}`
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a failure')
}

describe('the engine honours what a storage declares', () => {
  let dir: string
  let storage: MemoryStorage
  const open: Repository[] = []
  const file = randomBytes(200_000)
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-capabilities-'))
    storage = new MemoryStorage()
    await Repository.create(storage, {})
    const repo = await openRepo('writer')
    await backup(repo, [importer({a: file})], {tmpDir: dir})
  })
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close().catch(() => {})
    rmSync(dir, {recursive: true, force: true})
  })
  const openRepo = async (cache: string) => {
    const repo = await Repository.open(storage, {cacheDir: join(dir, cache), passphrase: async () => Buffer.alloc(0), logger: quiet})
    open.push(repo)
    return repo
  }

  it('read-only: every writing command fails at once in one line (exit 2), nothing is stored, and reading works', async () => {
    storage.declared = {write: false, delete: false}
    const before = snapshotOf(storage)
    const repo = await openRepo('reader')
    const attempts: [string, () => Promise<unknown>][] = [
      ['backup', () => backup(repo, [importer({b: randomBytes(1000)})], {tmpDir: dir})],
      ['rm', async () => removeSnapshots(repo, await selectSnapshots(repo, ['latest']))],
      ['maintenance', () => maintain(repo, {grace: 0})],
      ['create', () => Repository.create(new (class extends MemoryStorage {
        override declared = {write: false, delete: true}
      })(), {})],
      ['passphrase', () => changePassphrase(storage, {current: async () => Buffer.from('a'), next: async () => Buffer.from('b')})],
    ]
    for (const [what, attempt] of attempts) {
      const error = await failure(attempt())
      expect(error.message, what).toMatch(/^memory: (is read-only|does not delete objects)/)
      expect(error.message, what).not.toContain('\n')
      expect(exitCodeOf(error), what).toBe(ExitCode.USAGE)
    }
    expect(snapshotOf(storage), 'a read-only storage was written to').toBe(before)
    // Reading: the snapshot is listed and its file reads back whole.
    const [entry] = await listSnapshots(repo)
    const snapshot = await openSnapshot(repo, entry)
    const a = await snapshot.requireEntry('/data/a')
    expect((await readAll(await snapshot.open(a))).equals(file)).toBe(true)
  })

  it('append-only: backups add and release their locks, maintenance refuses before changing anything', async () => {
    storage.declared = {write: true, delete: false}
    const repo = await openRepo('appender')
    await backup(repo, [importer({b: randomBytes(1000)})], {tmpDir: dir})
    expect(storage.objects.lock.size, 'the backup released its lock').toBe(0)
    await removeSnapshots(repo, await selectSnapshots(repo, ['latest']))
    const before = snapshotOf(storage)
    for (const dryRun of [false, true]) {
      const error = await failure(maintain(repo, {grace: 0, dryRun}))
      expect(error.message).toBe('memory: does not delete objects (an append-only storage), so it cannot be maintained: run it with credentials that may delete')
      expect(exitCodeOf(error)).toBe(ExitCode.USAGE)
    }
    expect(snapshotOf(storage), 'maintenance changed an append-only storage').toBe(before)
    expect(await listSnapshots(repo)).toHaveLength(1)
  })
})

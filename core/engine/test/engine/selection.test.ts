import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {backup} from '../../src/engine/backup.js'
import {removeSnapshots} from '../../src/engine/remove.js'
import {
  filterSnapshots,
  listSnapshots,
  parseDuration,
  parseTime,
  resolveTarget,
  selectSnapshots,
  type SnapshotEntry,
} from '../../src/engine/selection.js'
import {applyTags, planTags} from '../../src/engine/tags.js'
import {type Importer, type ImportRecord, NotFoundError, UsageError} from '@plakar/sdk'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

function importer(root: string, content: string): Importer {
  const data = Buffer.from(content)
  const records: ImportRecord[] = [
    {path: root, info: {type: 'directory', size: 0}},
    {path: `${root}/f`, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1}, open: async () => Readable.from([data])},
  ]
  return {type: 'test', origin: 'here', root, async *scan() {
    yield* records
  }, async close() {}}
}

describe('snapshot selection', () => {
  let dir: string
  let storage: MemoryStorage
  let repo: Repository
  const ids: Record<string, string> = {}

  const open = (cache: string) => Repository.open(storage, {cacheDir: join(dir, cache), passphrase: async () => Buffer.alloc(0), logger: quiet})

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-selection-'))
    storage = new MemoryStorage()
    await Repository.create(storage, {})
    repo = await open('a')
    const take = async (key: string, root: string, options: {host: string; tags?: string[]; name?: string}) => {
      const r = await backup(repo, [importer(root, `${key}\n`)], {tmpDir: dir, ...options})
      ids[key] = r.id
    }
    await take('web-1', '/srv/www', {host: 'web', tags: ['daily'], name: 'www'})
    await take('db-1', '/var/lib/db', {host: 'db', tags: ['daily', 'db']})
    await take('web-2', '/srv/www/site', {host: 'web', tags: ['weekly'], name: 'www'})
    await take('db-2', '/var/lib/db', {host: 'db', tags: ['daily']})
  })
  afterEach(async () => {
    await repo.close()
    rmSync(dir, {recursive: true, force: true})
  })

  const keys = (entries: SnapshotEntry[]) => entries.map((e) => Object.keys(ids).find((k) => ids[k] === e.id))

  it('lists every snapshot oldest first, with host, user, name and tags', async () => {
    const all = await listSnapshots(repo)
    expect(keys(all)).toEqual(['web-1', 'db-1', 'web-2', 'db-2'])
    expect(all[0]).toMatchObject({host: 'web', name: 'www', tags: ['daily'], importer: {root: '/srv/www'}, files: 1})
    expect(all[1].name).toBeUndefined()
    expect(typeof all[0].user).toBe('string')
  })

  it('filters combine: every filter must pass', async () => {
    expect(keys(await filterSnapshots(repo, {hosts: ['web']}))).toEqual(['web-1', 'web-2'])
    expect(keys(await filterSnapshots(repo, {tags: ['daily']}))).toEqual(['web-1', 'db-1', 'db-2'])
    expect(keys(await filterSnapshots(repo, {tags: ['daily', 'db']}))).toEqual(['db-1'])
    expect(keys(await filterSnapshots(repo, {tags: ['daily'], hosts: ['db', 'web'], names: ['www']}))).toEqual(['web-1'])
    expect(keys(await filterSnapshots(repo, {paths: ['/srv/www']}))).toEqual(['web-1', 'web-2'])
    expect(keys(await filterSnapshots(repo, {paths: ['/srv/www/site/']}))).toEqual(['web-2'])
    expect(keys(await filterSnapshots(repo, {paths: ['/srv/ww']}))).toEqual([])
    const all = await listSnapshots(repo)
    expect(keys(await filterSnapshots(repo, {since: all[1].time, before: all[3].time}))).toEqual(['db-1', 'web-2'])
  })

  it('references: latest, latest~N and id prefixes, resolved among the filtered snapshots', async () => {
    expect(keys(await selectSnapshots(repo, ['latest']))).toEqual(['db-2'])
    expect(keys(await selectSnapshots(repo, ['latest'], {hosts: ['web']}))).toEqual(['web-2'])
    expect(keys(await selectSnapshots(repo, ['latest~1'], {hosts: ['web']}))).toEqual(['web-1'])
    expect(keys(await selectSnapshots(repo, [ids['db-1'].slice(0, 10), 'latest']))).toEqual(['db-1', 'db-2'])
    await expect(selectSnapshots(repo, [ids['db-1'].slice(0, 10)], {hosts: ['web']})).rejects.toThrow(NotFoundError)
    await expect(selectSnapshots(repo, ['latest~9'])).rejects.toThrow(/only 4 snapshots/)
    await expect(selectSnapshots(repo, ['xyz'])).rejects.toThrow(UsageError)
    await expect(selectSnapshots(repo, ['latest'], {hosts: ['nowhere']})).rejects.toThrow(/no snapshot matching the filters/)
  })

  it('ID:PATH resolves against the snapshot root; an empty reference is latest', async () => {
    const t = await resolveTarget(repo, ':f', {hosts: ['web']})
    expect(t.snapshot.id).toBe(ids['web-2'])
    expect(t.path).toBe('/srv/www/site/f')
    const u = await resolveTarget(repo, `${ids['db-1'].slice(0, 8)}:/var/lib/db/f`)
    expect(u.snapshot.id).toBe(ids['db-1'])
    expect((await u.snapshot.requireEntry(u.path)).info.size).toBe(5)
    expect((await resolveTarget(repo, undefined)).path).toBe('/var/lib/db')
  })

  it('tag edits replace the header tags, on every client, and the latest edit wins', async () => {
    const entries = await selectSnapshots(repo, [], {hosts: ['db']})
    await applyTags(repo, planTags(entries, {add: ['keep'], remove: ['daily']}))
    expect(planTags(await selectSnapshots(repo, [], {hosts: ['db']}), {add: ['keep']})).toEqual([])
    const other = await open('b')
    try {
      expect(keys(await filterSnapshots(other, {tags: ['keep']}))).toEqual(['db-1', 'db-2'])
      expect((await filterSnapshots(other, {tags: ['keep']}))[0].tags).toEqual(['db', 'keep'])
      expect((await resolveTarget(other, ids['db-1'])).snapshot.header.tags).toEqual(['db', 'keep'])
      await applyTags(other, planTags(await selectSnapshots(other, ['latest']), {set: ['final']}))
    } finally {
      await other.close()
    }
    await repo.refresh()
    expect((await selectSnapshots(repo, ['latest']))[0].tags).toEqual(['final'])
  })

  it('removed snapshots are no longer selected, by this client or another', async () => {
    await removeSnapshots(repo, await selectSnapshots(repo, [], {hosts: ['web']}))
    expect(keys(await listSnapshots(repo))).toEqual(['db-1', 'db-2'])
    const other = await open('c')
    try {
      expect(keys(await listSnapshots(other))).toEqual(['db-1', 'db-2'])
    } finally {
      await other.close()
    }
  })

  it('durations and times', () => {
    expect(parseDuration('7d')).toBe(7 * 86_400_000)
    expect(parseDuration('1y6m')).toBe((365 + 180) * 86_400_000)
    expect(parseDuration('90min')).toBe(90 * 60_000)
    expect(parseDuration('0')).toBe(0)
    expect(() => parseDuration('7 days')).toThrow(UsageError)
    expect(() => parseDuration('')).toThrow(UsageError)
    expect(parseTime('2d', 'since', 10 * 86_400_000)).toBe(8 * 86_400_000)
    expect(parseTime('2026-01-01', 'since')).toBe(Date.UTC(2026, 0, 1))
    expect(() => parseTime('yesterday', '--since')).toThrow(/--since: "yesterday" is not a date/)
  })
})

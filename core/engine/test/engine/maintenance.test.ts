import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {backup} from '../../src/engine/backup.js'
import {allSnapshots, check} from '../../src/engine/check.js'
import {maintain} from '../../src/engine/maintenance.js'
import {removeSnapshots} from '../../src/engine/remove.js'
import {applyTags, planTags} from '../../src/engine/tags.js'
import {listSnapshots, openSnapshot, selectSnapshots} from '../../src/engine/selection.js'
import {readAll, type Importer, type ImportRecord} from '@plakar/sdk'
import {LockedError, RepositoryLock} from '../../src/repository/lock.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}
const ROOT = '/data'

type Tree = Map<string, Buffer>

function importer(tree: Tree, gate?: Promise<void>): Importer {
  return {
    type: 'test',
    origin: 'here',
    root: ROOT,
    async *scan() {
      yield {path: ROOT, info: {type: 'directory', size: 0}}
      const files = [...tree.entries()].sort(([a], [b]) => a.localeCompare(b))
      for (const [i, [name, data]] of files.entries()) {
        // The gate holds the scan before its last file, once the others were handed out.
        if (gate && i === files.length - 1) await gate
        // The mtime follows the content, as on a disk: a changed file is read again.
        const mtime = 1000 + data.readUInt32LE(0)
        const record: ImportRecord = {path: `${ROOT}/${name}`, info: {type: 'file', size: data.length, mode: 0o644, mtime}, open: async () => Readable.from([data])}
        yield record
      }
    },
    async close() {},
  }
}

/** Every file of every live snapshot, read back and compared with what was backed up. */
async function expectRestorable(repo: Repository, expected: Map<string, Tree>): Promise<number> {
  let n = 0
  for (const entry of await listSnapshots(repo)) {
    const want = expected.get(entry.id)
    expect(want, `snapshot ${entry.id} was not expected`).toBeDefined()
    const snapshot = await openSnapshot(repo, entry)
    const seen = new Set<string>()
    for await (const [path, e] of snapshot.walk(ROOT)) {
      if (e.info.type !== 'file') continue
      const name = path.slice(ROOT.length + 1)
      const data = await readAll(await snapshot.open(e))
      expect(data.equals(want!.get(name)!), `${entry.id.slice(0, 8)}:${name}`).toBe(true)
      seen.add(name)
    }
    expect([...seen].sort()).toEqual([...want!.keys()].sort())
    n++
  }
  return n
}

async function expectChecks(repo: Repository): Promise<void> {
  const {targets, problems} = await allSnapshots(repo)
  const result = await check(repo, targets, {problems, wholeRepository: true})
  expect(result.problems.map((p) => p.message)).toEqual([])
}

/** An owner whose pid is not a running process: as a killed plakar leaves its locks. */
function ghost(): {host: string; pid: number; user: string} {
  return {host: hostname(), pid: 4_000_000 + Math.floor(Math.random() * 100_000), user: 'test'}
}

describe('maintenance', () => {
  let dir: string
  let storage: MemoryStorage
  const open: Repository[] = []
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-maintenance-'))
    storage = new MemoryStorage()
    await Repository.create(storage, {packfileSize: 64 * 1024})
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
  const storedBytes = () => [...storage.objects.packfile.values()].reduce((n, b) => n + b.length, 0)

  it('marks, keeps through the grace period (lookups fail, naming the blob), then deletes; the survivor stays whole', async () => {
    const repo = await openRepo('a')
    const expected = new Map<string, Tree>()
    const shared = randomBytes(100_000)
    const trees: Tree[] = []
    for (let v = 0; v < 4; v++) {
      const tree: Tree = new Map([['shared', shared], ['own', randomBytes(150_000)]])
      const r = await backup(repo, [importer(tree)], {tmpDir: dir})
      expected.set(r.id, tree)
      trees.push(tree)
    }
    const before = storedBytes()
    const old = await openSnapshot(repo, (await selectSnapshots(repo, ['latest~3']))[0])
    await removeSnapshots(repo, await selectSnapshots(repo, ['latest~3', 'latest~2', 'latest~1']))
    for (const id of [...expected.keys()].slice(0, 3)) expected.delete(id)

    const first = await maintain(repo, {grace: 7 * 86_400_000, owner: ghost()})
    expect(first.marked).toBeGreaterThan(0)
    expect(first.deleted).toBe(0)
    expect(first.waiting).toBe(first.marked)
    expect(storedBytes()).toBeGreaterThanOrEqual(before)
    // The removed snapshot's own file: its bytes are kept, but it reads as gone, with the reason.
    const own = await old.requireEntry(`${ROOT}/own`)
    await expect(readAll(await old.open(own))).rejects.toThrow(/chunk [0-9a-f]{16} is only in packfile [0-9a-f]{16}, which maintenance marked for deletion/)
    expect(await expectRestorable(repo, expected)).toBe(1)

    const second = await maintain(repo, {grace: 0, owner: ghost()})
    expect(second.deleted).toBe(first.marked)
    expect(second.freedBytes).toBeGreaterThan(3 * 150_000)
    expect(storedBytes()).toBeLessThan(before - 3 * 150_000)
    expect(await expectRestorable(repo, expected)).toBe(1)
    await expectChecks(repo)
    // Another client (an empty cache) sees the same repository.
    expect(await expectRestorable(await openRepo('b'), expected)).toBe(1)
  })

  it('repacks packfiles whose live share is low, and compacts the states into few', async () => {
    const repo = await openRepo('a')
    const expected = new Map<string, Tree>()
    // Small files share packfiles; each version changes six of eight: once the older versions
    // go, their packfiles hold a quarter of live data (the two files every version keeps).
    let tree: Tree = new Map(Array.from({length: 8}, (_, i) => [`f${i}`, randomBytes(6_000)] as [string, Buffer]))
    for (let v = 0; v < 6; v++) {
      tree = new Map(tree)
      if (v > 0) for (let i = 2; i < 8; i++) tree.set(`f${i}`, randomBytes(6_000))
      expected.set((await backup(repo, [importer(tree)], {tmpDir: dir})).id, tree)
    }
    const ids = [...expected.keys()]
    await removeSnapshots(repo, (await listSnapshots(repo)).filter((_, i) => i % 2 === 0))
    for (const [i, id] of ids.entries()) if (i % 2 === 0) expected.delete(id)
    const statesBefore = storage.objects.state.size
    const report = await maintain(repo, {grace: 0, owner: ghost()})
    expect(report.repacked).toBeGreaterThan(0)
    expect(report.newPackfiles).toBeGreaterThan(0)
    expect(report.statesAfter).toBeLessThan(statesBefore)
    expect(storage.objects.state.size).toBe(report.statesAfter)
    expect(await expectRestorable(repo, expected)).toBe(3)
    await expectChecks(repo)
    const fresh = await openRepo('fresh')
    expect(await expectRestorable(fresh, expected)).toBe(3)
    expect((await listSnapshots(fresh)).map((s) => s.id)).toEqual(ids.filter((_, i) => i % 2 === 1))
  })

  it('compacts into several states; the maintaining client, updated in place, answers as a client rebuilding from them', async () => {
    const repo = await openRepo('a')
    const expected = new Map<string, Tree>()
    for (let v = 0; v < 4; v++) {
      const tree: Tree = new Map(Array.from({length: 40}, (_, i) => [`v${v}-f${i}`, randomBytes(3_000)] as [string, Buffer]))
      expected.set((await backup(repo, [importer(tree)], {tmpDir: dir})).id, tree)
    }
    // A removed snapshot (its packfiles deleted), a tag edit of a live one and of the removed one.
    const entries = await listSnapshots(repo)
    await applyTags(repo, planTags([entries[0], entries[2]], {add: ['kept']}))
    await removeSnapshots(repo, [entries[0]])
    expected.delete(entries[0].id)
    // Fewer index entries per state than the biggest packfile holds (about 20 chunks of 3 kB).
    const stateBlobs = 10
    const report = await maintain(repo, {grace: 0, owner: ghost(), stateBlobs})
    expect(report.deleted).toBeGreaterThan(0)
    expect(report.statesAfter).toBeGreaterThan(2)
    expect(storage.objects.state.size).toBe(report.statesAfter)
    // Each compacted state holds at most stateBlobs entries, even where one packfile alone has
    // more: its index goes on in the next state (memory while compacting is one state's worth).
    expect(Math.max(...repo.cache.allPackfiles().map((p) => repo.cache.indexOfPack(p.id).length))).toBeGreaterThan(stateBlobs)
    const {openState} = await import('../../src/format/state.js')
    const statesOfPack = new Map<string, number>()
    for (const [id, bytes] of storage.objects.state) {
      const delta = openState(repo.keys, id, bytes)
      expect(delta.packfiles.reduce((sum, p) => sum + p.blobs.length, 0)).toBeLessThanOrEqual(stateBlobs)
      for (const p of delta.packfiles) statesOfPack.set(p.id, (statesOfPack.get(p.id) ?? 0) + 1)
    }
    expect(Math.max(...statesOfPack.values())).toBeGreaterThan(1)
    const hex = (b: Buffer) => b.toString('hex')
    const view = (r: Repository) => ({
      states: [...r.cache.knownStates()].sort(),
      superseded: [...r.cache.supersededStates()].sort(),
      packfiles: r.cache.allPackfiles(),
      index: r.cache.allPackfiles().flatMap((p) => r.cache.indexOfPack(p.id).map((e) => `${p.id}:${e[0]}:${hex(e[1])}:${e.slice(2).join(':')}`)),
      snapshots: r.cache.snapshots().map((s) => ({id: hex(s.id), header: hex(s.header), time: s.time, info: s.info, tags: s.editedTags})),
      tombstones: r.cache.tombstones(),
      marked: r.cache.markedPackfiles(),
      tagEdits: r.cache.tagEdits().map((e) => ({...e, id: hex(e.id)})).sort((a, b) => a.id.localeCompare(b.id)),
      stats: r.cache.stats(),
      deletedSnapshot: r.cache.isSnapshotDeleted(Buffer.from(entries[0].id, 'hex')),
      deletedPackfiles: [...r.cache.deletedPackfiles()].sort(),
      hasDeleted: r.cache.hasDeletedPackfiles(),
      // Rows no query shows (of deleted packfiles) would only take space: none either.
      rows: ['blobs', 'packfiles', 'snapshots', 'deleted_snapshots', 'deleted_packfiles', 'pack_marks', 'tag_edits'].map((t) => r.cache.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get()),
    })
    const fresh = await openRepo('fresh')
    expect(view(repo)).toEqual(view(fresh))
    expect(view(repo).deletedSnapshot).toBe(true)
    expect(view(repo).deletedPackfiles.length).toBeGreaterThan(0)
    expect(await expectRestorable(fresh, expected)).toBe(3)
    expect(await expectRestorable(repo, expected)).toBe(3)
    await expectChecks(repo)
    await expectChecks(fresh)
    // And the next maintenance, from the cache updated in place, finds nothing to do but compact.
    const again = await maintain(repo, {grace: 0, owner: ghost(), stateBlobs})
    expect([again.marked, again.deleted, again.repacked]).toEqual([0, 0, 0])
    expect(view(repo)).toEqual(view(await openRepo('fresh2')))
  })

  it('merges small metadata packfiles (a header alone in each) into full ones, once', async () => {
    const repo = await openRepo('a')
    const expected = new Map<string, Tree>()
    for (let v = 0; v < 12; v++) {
      const tree: Tree = new Map([[`f${v}`, randomBytes(600)], ['same', Buffer.from('in every version\n')]])
      expected.set((await backup(repo, [importer(tree)], {tmpDir: dir})).id, tree)
    }
    const before = storage.objects.packfile.size
    const metaBefore = [...storage.putOptions.values()].filter((o) => o?.packfileKind === 'meta').length
    const report = await maintain(repo, {grace: 0, owner: ghost()})
    expect(report.marked).toBe(report.repacked)
    expect(report.repacked).toBeGreaterThanOrEqual(metaBefore)
    expect(storage.objects.packfile.size).toBeLessThanOrEqual(before - metaBefore + 1) // the metadata in one
    expect(await expectRestorable(repo, expected)).toBe(12)
    await expectChecks(repo)
    // What was merged is not rewritten again: one small metadata packfile stays as it is.
    expect((await maintain(repo, {grace: 0, owner: ghost()})).repacked).toBe(0)
    expect(await expectRestorable(await openRepo('fresh'), expected)).toBe(12)
  })

  it('a backup cannot start while maintenance holds its lock, nor maintenance beside a backup', async () => {
    const repo = await openRepo('a')
    const lock = await RepositoryLock.acquire(repo, 'exclusive', {host: 'other', pid: 1, user: 'x'})
    try {
      await expect(backup(repo, [importer(new Map([['a', randomBytes(10)]]))], {tmpDir: dir})).rejects.toThrow(LockedError)
      await expect(backup(repo, [importer(new Map([['a', randomBytes(10)]]))], {tmpDir: dir})).rejects.toThrow(/locked by maintenance/)
    } finally {
      await lock.release()
    }
    const shared = await RepositoryLock.acquire(repo, 'shared', {host: 'other', pid: 1, user: 'x'})
    try {
      await expect(maintain(repo, {grace: 0})).rejects.toThrow(/locked by a backup or another writer/)
    } finally {
      await shared.release()
    }
  })

  it('without the lock: a packfile marked while an older backup runs is not deleted, and is un-marked once that backup uses it', async () => {
    const a = await openRepo('a')
    const content = randomBytes(200_000)
    const first = await backup(a, [importer(new Map([['x', content]]))], {tmpDir: dir})
    await removeSnapshots(a, await selectSnapshots(a, [first.id]))

    // A second client starts a backup of the same content, which deduplicates against the
    // packfile of the removed snapshot, and stops before its last file.
    const b = await openRepo('b')
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const tree: Tree = new Map([['x', content], ['y', randomBytes(1000)]])
    const running = backup(b, [importer(tree, gate)], {tmpDir: dir})
    // Its lock is written once it has merged the states: wait for it.
    while (storage.objects.lock.size === 0) await new Promise((r) => setImmediate(r))

    const m = await openRepo('m')
    const during = await maintain(m, {grace: 0, lock: false, owner: ghost()})
    expect(during.marked).toBeGreaterThan(0)
    expect(during.deleted).toBe(0)
    expect(during.waiting).toBe(during.marked)

    release()
    const second = await running
    const after = await maintain(m, {grace: 0, owner: ghost()})
    expect(after.unmarked).toBeGreaterThan(0)
    expect(await expectRestorable(m, new Map([[second.id, tree]]))).toBe(1)
    await expectChecks(m)
  })

  it('interrupted at 20 random moments, the repository checks and restores, and the next maintenance completes', async () => {
    let crashed = 0
    for (let round = 0; round < 20; round++) {
      const s = new MemoryStorage()
      await Repository.create(s, {packfileSize: 32 * 1024})
      const cache = join(dir, `round-${round}`)
      const repo = await Repository.open(s, {cacheDir: cache, passphrase: async () => Buffer.alloc(0), logger: quiet})
      const expected = new Map<string, Tree>()
      const common = randomBytes(40_000)
      for (let v = 0; v < 5; v++) {
        const tree: Tree = new Map([['common', common], ['v', randomBytes(20_000 + v * 1000)], ...Array.from({length: 4}, (_, i) => [`s${i}`, randomBytes(3000)] as [string, Buffer])])
        expected.set((await backup(repo, [importer(tree)], {tmpDir: dir})).id, tree)
      }
      const gone = (await listSnapshots(repo)).filter((_, i) => i === 0 || i === 1 || i === 3)
      await removeSnapshots(repo, gone)
      for (const g of gone) expected.delete(g.id)
      // The k-th write or delete of maintenance is where it dies; a dead process does nothing
      // more, so from then on every operation fails, the release of its lock included.
      let ops = 0
      let dead = false
      const k = 1 + Math.floor(Math.random() * 14)
      const crash = (kind: string) => {
        if (dead || (kind !== 'lock' && ++ops >= k)) {
          dead = true
          throw new Error(`crash at operation ${k}`)
        }
      }
      s.beforePut = crash
      s.beforeDelete = crash
      await maintain(repo, {grace: 0, owner: ghost()}).catch((error: Error) => {
        expect(error.message).toMatch(/crash at operation/)
        crashed++
      })
      s.beforePut = undefined
      s.beforeDelete = undefined
      await repo.close()

      // As the next process would: same cache, the dead one's lock still in the storage.
      const next = await Repository.open(s, {cacheDir: cache, passphrase: async () => Buffer.alloc(0), logger: quiet})
      try {
        await expectChecks(next)
        expect(await expectRestorable(next, expected)).toBe(2)
        const report = await maintain(next, {grace: 0, owner: ghost()})
        expect(report.waiting).toBe(0)
        await expectChecks(next)
        expect(await expectRestorable(next, expected)).toBe(2)
      } finally {
        await next.close()
      }
    }
    // Most rounds die before maintenance ends (it makes more than 14 writes and deletes here).
    expect(crashed).toBeGreaterThanOrEqual(15)
  }, 600_000)

  it('20 randomized rounds of backups beside maintenance without its lock leave every snapshot restorable', async () => {
    const writer = await openRepo('writer')
    const maint = await openRepo('maintenance')
    const expected = new Map<string, Tree>()
    let tree: Tree = new Map(Array.from({length: 6}, (_, i) => [`f${i}`, randomBytes(8_000)] as [string, Buffer]))
    for (let round = 0; round < 20; round++) {
      // Change some files, keep others (reused from the parent without being read).
      tree = new Map(tree)
      for (const name of tree.keys()) if (Math.random() < 0.4) tree.set(name, randomBytes(4_000 + Math.floor(Math.random() * 8_000)))
      if (Math.random() < 0.3) tree.set(`n${round}`, randomBytes(5_000))
      const snapshotTree = tree
      const live = await listSnapshots(maint)
      if (live.length > 2 && Math.random() < 0.7) {
        const victim = live[Math.floor(Math.random() * (live.length - 1))]
        await removeSnapshots(maint, [victim])
        expected.delete(victim.id)
      }
      const [made] = await Promise.all([
        backup(writer, [importer(snapshotTree)], {tmpDir: dir}),
        maintain(maint, {grace: 0, lock: false, owner: ghost(), repackThreshold: Math.random()}),
      ])
      expected.set(made.id, snapshotTree)
      await maint.refresh()
      expect(await expectRestorable(maint, expected)).toBe(expected.size)
    }
    await maintain(maint, {grace: 0, owner: ghost()})
    await expectChecks(maint)
    expect(await expectRestorable(await openRepo('last'), expected)).toBe(expected.size)
  }, 600_000)
})

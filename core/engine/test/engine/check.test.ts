import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {backup} from '../../src/engine/backup.js'
import {allSnapshots, check} from '../../src/engine/check.js'
import {packWindows, WINDOW_BYTES, type PackRow} from '../../src/engine/check-packs.js'
import {maintain} from '../../src/engine/maintenance.js'
import {openState} from '../../src/format/state.js'
import {BlobType} from '../../src/format/blob-type.js'
import type {Id, Importer, ImportRecord, Kind, ReadIntoOptions} from '@plakar/sdk'
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

  /**
   * Flips one byte of the first stored blob of `type`, and one of the parity section's table
   * (docs/format.md §7.1), so that the parity cannot repair it: what is left is damage.
   */
  const corrupt = (repo: Repository, type: number, parity = false) => {
    const pack = repo.cache.packfiles().find((p) => repo.cache.blobsOfPack(p.id).some((b) => b.type === type))!
    const blobs = repo.cache.blobsOfPack(pack.id)
    const blob = blobs.find((b) => b.type === type)!
    const bytes = storage.objects.packfile.get(pack.id)!
    bytes[blob.offset + 1] ^= 1
    if (!parity) bytes[Math.max(...blobs.map((b) => b.offset + b.length)) + 1] ^= 1
  }

  it('a byte flipped in a metadata blob is repaired from the parity: only the packfile is reported', async () => {
    const writer = await open('writer')
    await backup(writer, [importer([{path: '/r', info: {type: 'directory', size: 0}}, file('/r/a.txt', 'hello\n')])], {tmpDir: dir})
    corrupt(writer, BlobType.NAME_NODE, true)
    await writer.close()
    const repo = await open('reader')
    try {
      const {targets, problems} = await allSnapshots(repo)
      const result = await check(repo, targets, {problems})
      expect(result.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^packfile [0-9a-f]{64} does not match its id/)])
    } finally {
      await repo.close()
    }
  })

  it('reports, once, a state this client had read that was deleted without a compaction replacing it', async () => {
    const root = {path: '/r', info: {type: 'directory' as const, size: 0}}
    const client = await open('client')
    await backup(client, [importer([root, file('/r/a.txt', 'one\n')])], {tmpDir: dir})
    // Several compactions this client takes part in, and one it misses: none is a loss.
    await maintain(client, {lock: false})
    await backup(client, [importer([root, file('/r/a.txt', 'two\n')])], {tmpDir: dir})
    await client.close()
    const other = await open('other')
    await maintain(other, {lock: false})
    await backup(other, [importer([root, file('/r/a.txt', 'three\n')])], {tmpDir: dir})
    await maintain(other, {lock: false})
    await other.close()

    let again = await open('client')
    try {
      const {targets, problems} = await allSnapshots(again)
      expect((await check(again, targets, {problems, fast: true})).problems).toEqual([])
      expect(targets).toHaveLength(3)
    } finally {
      await again.close()
    }
    // Now the state naming the newest snapshot goes (an operator's mistake, an attacker).
    const newest = await open('writer')
    await backup(newest, [importer([root, file('/r/a.txt', 'four\n')])], {tmpDir: dir})
    const naming = [...storage.objects.state].find(([id, bytes]) => openState(newest.keys, id, bytes).snapshots.length === 1 && openState(newest.keys, id, bytes).supersedes.length === 0)!
    await newest.close()
    again = await open('client')
    await again.close()
    storage.objects.state.delete(naming[0])

    // Another command notices first; check still reports it, then the next check passes.
    const warnings: string[] = []
    const ls = await Repository.open(storage, {cacheDir: join(dir, 'client'), passphrase: async () => Buffer.alloc(0), logger: {...quiet, warn: (m: string) => warnings.push(m)}})
    await ls.close()
    expect(warnings).toEqual([expect.stringContaining(`state ${naming[0].slice(0, 16)}, known to this client, is gone`)])
    for (const expected of [1, 0]) {
      const repo = await open('client')
      try {
        const {targets, problems} = await allSnapshots(repo)
        const result = await check(repo, targets, {problems, fast: true})
        expect(result.problems.map((p) => p.state)).toEqual(expected ? [naming[0]] : [])
      } finally {
        await repo.close()
      }
    }
  })

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

  for (const wholeRepository of [true, false]) describe(`of every snapshot, ${wholeRepository ? 'as a whole repository (walk and verification at once)' : 'one by one'}; chunks looked up in batches`, () => {
    // More files than one lookup query takes (128) and than one batch holds (1,024).
    const files = Array.from({length: 1500}, (_, i) => file(`/r/d${i % 7}/f${i}.txt`, `content of file ${i}\n`))
    const run = async (damage: (repo: Repository) => void, damageReader: (repo: Repository) => void = () => {}) => {
      const writer = await open('writer')
      await backup(writer, [importer([{path: '/r', info: {type: 'directory', size: 0}}, ...files])], {tmpDir: dir})
      damage(writer)
      await writer.close()
      const repo = await open('reader')
      try {
        damageReader(repo)
        const {targets, problems} = await allSnapshots(repo)
        return await check(repo, targets, {problems, wholeRepository})
      } finally {
        await repo.close()
      }
    }

    it('passes an intact repository, verifying every packfile', async () => {
      const result = await run(() => {})
      expect(result.problems).toEqual([])
      expect(result.files).toBe(1500)
      // Every packfile, or (snapshot by snapshot) those its trees and files use: the snapshot's
      // header, alone in the last one, was authenticated when it was read.
      const sizes = [...storage.objects.packfile.values()].map((b) => b.length)
      expect(result.packfiles).toBe(wholeRepository ? sizes.length : sizes.length - 1)
      if (wholeRepository) expect(result.bytes).toBe(sizes.reduce((n, b) => n + b, 0))
    })

    it('names the one file whose chunk is corrupted', async () => {
      let victim = ''
      const result = await run((repo) => {
        const pack = repo.cache.packfiles().find((p) => p.kind === 'data')!
        const blob = repo.cache.blobsOfPack(pack.id).find((b) => b.type === BlobType.CHUNK)!
        victim = blob.mac.toString('hex').slice(0, 16)
        storage.objects.packfile.get(pack.id)![blob.offset + 1] ^= 1
      })
      const named = result.problems.filter((p) => p.kind === 'file')
      expect(named).toHaveLength(1)
      expect(named[0].message).toContain(`chunk ${victim} is corrupted`)
      expect(result.problems.filter((p) => p.kind === 'packfile')).toHaveLength(1)
    })

    if (wholeRepository) {
      it('reports a live packfile missing from the storage even when no file uses it', async () => {
        let gone = ''
        const result = await run((repo) => {
          // The last metadata packfile holds only the snapshot's header, which the walk never
          // looks up: a fresh client finds the header unreadable, and the packfile is named.
          const metas = repo.cache.packfiles().filter((p) => p.kind === 'meta')
          gone = metas.find((p) => repo.cache.blobsOfPack(p.id).every((b) => b.type === BlobType.SNAPSHOT))!.id
          storage.objects.packfile.delete(gone)
        })
        expect(result.problems.map((p) => p.message).sort()).toEqual([
          `packfile ${gone} is missing from the storage`,
          expect.stringMatching(new RegExp(`^snapshot [0-9a-f]{8}: its header is unreadable: packfile ${gone.slice(0, 16)} is missing$`)),
        ])
      })

      it('stops the walk and fails with a fatal storage error met while verifying', async () => {
        const writer = await open('writer')
        await backup(writer, [importer([{path: '/r', info: {type: 'directory', size: 0}}, ...files])], {tmpDir: dir})
        await writer.close()
        const repo = await open('reader')
        const unreachable = Object.assign(new Error('the storage stopped answering'), {fatal: true})
        let walked = 0
        try {
          storage.beforeGet = (kind, _id, range) => {
            // Whole packfiles are read by the verification only; the walk reads ranges.
            if (kind === 'packfile' && !range) throw unreachable
          }
          const {targets, problems} = await allSnapshots(repo)
          await expect(check(repo, targets, {problems, wholeRepository: true, onProgress: (p) => void (p.phase === 'index' && walked++)})).rejects.toBe(unreachable)
          // The failure surfaced before the walk had gone through every file.
          expect(walked).toBeLessThan(files.length)
        } finally {
          storage.beforeGet = undefined
          await repo.close()
        }
      })
    }

    it('names the one file whose chunk no packfile indexes, the rest verified', async () => {
      let victim = ''
      const result = await run(() => {}, (repo) => {
        // The reader's index lacks one chunk (as when the state recording it was lost): its
        // packfile is still read and verified, but no file may count on that chunk.
        const pack = repo.cache.packfiles().find((p) => p.kind === 'data')!
        const blob = repo.cache.blobsOfPack(pack.id).find((b) => b.type === BlobType.CHUNK)!
        victim = blob.mac.toString('hex').slice(0, 16)
        repo.cache.db.prepare('DELETE FROM blobs WHERE mac = ? AND type = ?').run(blob.mac, BlobType.CHUNK)
      })
      expect(result.problems.map((p) => p.message)).toEqual([expect.stringMatching(new RegExp(`^snapshot [0-9a-f]{8}: /r/d\\d/f\\d+\\.txt: chunk ${victim} is missing from the index$`))])
      expect(result.files).toBe(1500)
    })

    it('names every file whose packfile is missing, and no other', async () => {
      let lost = 0
      const result = await run((repo) => {
        const pack = repo.cache.packfiles().find((p) => p.kind === 'data')!
        lost = repo.cache.blobsOfPack(pack.id).filter((b) => b.type === BlobType.CHUNK).length
        storage.objects.packfile.delete(pack.id)
      })
      const named = result.problems.filter((p) => p.kind === 'file')
      expect(lost).toBeGreaterThan(0)
      expect(named).toHaveLength(lost)
      expect(named.every((p) => /packfile [0-9a-f]{16} holding chunk [0-9a-f]{16} is missing/.test(p.message))).toBe(true)
    })
  })

  // With readInto (a local directory) and without (ranges streamed by get).
  for (const withReadInto of [true, false]) {
    it(`finds a byte flipped in any window of a packfile, in a blob or between them (${withReadInto ? 'readInto' : 'get'})`, async () => {
      if (withReadInto) {
        storage = Object.assign(new MemoryStorage(), {
          async readInto(this: MemoryStorage, kind: Kind, id: Id, into: Uint8Array, options?: ReadIntoOptions) {
            const offset = options?.offset ?? 0
            const bytes = this.objects[kind].get(id)!.subarray(offset, offset + into.length)
            if (bytes.length !== into.length) throw Object.assign(new Error('short read'), {code: 'ESHORTREAD'})
            into.set(bytes)
          },
        })
        await Repository.create(storage, {})
      }
      // 14 MiB of incompressible files: one data packfile, four windows.
      const contents = Array.from({length: 28}, (_, i) => ({path: `/r/f${i}.bin`, data: randomBytes(512 * 1024)}))
      const writer = await open('writer')
      const records: ImportRecord[] = contents.map(({path, data}) => ({path, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1}, open: async () => Readable.from([data])}))
      await backup(writer, [importer([{path: '/r', info: {type: 'directory', size: 0}}, ...records])], {tmpDir: dir})
      const pack = writer.cache.packfiles().find((p) => p.kind === 'data')!
      const bytes = storage.objects.packfile.get(pack.id)!
      const rows = writer.cache.blobListOfPack(pack.id)
      const windows = packWindows(rows, bytes.length)
      expect(windows.length).toBeGreaterThanOrEqual(4)
      expect(windows.every((w) => w.end - w.start <= WINDOW_BYTES && w.rows.length > 0)).toBe(true)
      // One chunk flipped in each window, at a different place within its window each time.
      const flipped = new Set<string>()
      windows.forEach((window, w) => {
        const [hex, , offset, length] = rows[window.rows[w % window.rows.length]]
        bytes[offset + Math.floor((length * (w + 1)) / (windows.length + 1))] ^= 1
        flipped.add(hex)
      })
      // And the packfile's own index, past the last blob: only the packfile's MAC can see it.
      bytes[bytes.length - 40] ^= 1
      await writer.close()

      const repo = await open('reader')
      try {
        const {targets, problems} = await allSnapshots(repo)
        const result = await check(repo, targets, {problems, wholeRepository: true})
        expect(result.problems.filter((p) => p.kind === 'packfile').map((p) => p.message)).toEqual([`packfile ${pack.id} does not match its id: it is corrupted`])
        // Every flipped chunk is found (their files are 4 MiB apart: one file each), and no other.
        const named = result.problems.filter((p) => p.kind === 'file')
        const corrupted = new Set(named.map((p) => /chunk ([0-9a-f]{16}) is corrupted/.exec(p.message)?.[1]))
        expect(corrupted).toEqual(new Set([...flipped].map((hex) => hex.slice(0, 16))))
        expect(result.bytes).toBe(bytes.length + [...storage.objects.packfile.values()].filter((b) => b !== bytes).reduce((n, b) => n + b.length, 0))
      } finally {
        await repo.close()
      }
    })
  }

  it('cuts a packfile into windows that cover it in order, each blob inside one', () => {
    const row = (offset: number, length: number): PackRow => ['00', 1, offset, length]
    // Blobs out of order, one larger than a window, a gap larger than a window, a long tail.
    const rows = [row(30, 40), row(0, 30), row(70, 200), row(270, 10), row(600, 50), row(650, 20)]
    const windows = packWindows(rows, 900, 100)
    let at = 0
    for (const w of windows) {
      expect(w.start).toBe(at)
      expect(w.end).toBeGreaterThan(w.start)
      // At most a window's size, unless one blob alone is larger.
      if (w.end - w.start > 100) expect(w.rows.length).toBe(1)
      for (const i of w.rows) expect(rows[i][2] >= w.start && rows[i][2] + rows[i][3] <= w.end).toBe(true)
      at = w.end
    }
    expect(at).toBe(900)
    expect(windows.flatMap((w) => w.rows).sort()).toEqual([0, 1, 2, 3, 4, 5])
    expect(windows.every((w) => w.end - w.start <= 100 || w.rows.length === 1)).toBe(true)
    // A damaged index (blobs overlapping, or past the end): the whole packfile at once.
    expect(packWindows([row(0, 50), row(40, 20)], 900, 100)).toEqual([{start: 0, end: 900, rows: [0, 1]}])
    expect(packWindows([row(0, 50), row(880, 40)], 900, 100)).toEqual([{start: 0, end: 900, rows: [0, 1]}])
    expect(packWindows([], 0, 100)).toEqual([{start: 0, end: 0, rows: []}])
  })

  for (const wholeRepository of [true, false]) {
    it(`stops when its signal is aborted, with the signal's reason, and reads nothing more (${wholeRepository ? 'whole repository' : 'one by one'})`, async () => {
      const writer = await open('writer')
      const files = Array.from({length: 300}, (_, i) => file(`/r/f${i}.txt`, `content ${i}\n`))
      await backup(writer, [importer([{path: '/r', info: {type: 'directory', size: 0}}, ...files])], {tmpDir: dir})
      await writer.close()
      const repo = await open('reader')
      try {
        const {targets, problems} = await allSnapshots(repo)
        const controller = new AbortController()
        const reason = new Error('interrupted')
        let after = 0
        const checking = check(repo, targets, {
          problems,
          wholeRepository,
          signal: controller.signal,
          onProgress: () => {
            if (controller.signal.aborted) after++
            else if (!controller.signal.aborted) controller.abort(reason)
          },
        })
        await expect(checking).rejects.toBe(reason)
        // The walk stopped at the next file: no file was walked after the abort.
        expect(after).toBe(0)
      } finally {
        await repo.close()
      }
    })
  }
})

import {chmodSync, createReadStream, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {fileInfoFromStats, type Exporter, type Importer, type ImportRecord, readAll} from '@plakar/sdk'
import {backup} from '../../src/engine/backup.js'
import {check} from '../../src/engine/check.js'
import {restore} from '../../src/engine/restore.js'
import {Snapshot} from '../../src/engine/snapshot.js'
import {Repository} from '../../src/repository/repository.js'
import {encodeEntry, type Entry} from '../../src/tree/entry.js'
import {sameEntry, sameUnchangedFile} from '../../src/engine/subtree-reuse.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}
const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16)

/**
 * A real directory, yielded in the fs importer's order (plugins/fs walk.ts: depth first, each
 * directory's entries in byte order, then its subdirectories from a stack). `late` paths are
 * held back and yielded at the very end, as an importer with another order would.
 */
function dirImporter(root: string, origin = 'here', late: string[] = []): Importer {
  const record = (path: string): ImportRecord => {
    const stats = lstatSync(path)
    const info = fileInfoFromStats(stats)
    // As if the tree had been written an hour ago: a file modified in the seconds before a backup
    // is read again by the next one whatever it holds (racily clean, backup.ts racyFrom), which
    // would hide what these tests count. Every time moves by the same amount: changes still show.
    info.mtime! -= 3_600_000
    if (info.type === 'symlink') return {path, info, target: readlinkSync(path)}
    if (info.type === 'file') return {path, info, open: async () => createReadStream(path)}
    return {path, info}
  }
  return {
    type: 'test',
    origin,
    root,
    async *scan() {
      yield record(root)
      const pending = [root]
      const held: ImportRecord[] = []
      while (pending.length > 0) {
        const dir = pending.pop()!
        const names = readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        for (const name of names) {
          const path = join(dir, name)
          const r = record(path)
          if (r.info.type === 'directory') pending.push(path)
          if (late.includes(path)) held.push(r)
          else yield r
        }
      }
      yield* held
    },
    async close() {},
  }
}

/** Everything under `root` on disk: type, mode, content or target. */
function onDisk(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const visit = (path: string, rel: string) => {
    const stats = lstatSync(path)
    const mode = (stats.mode & 0o7777).toString(8)
    if (stats.isDirectory()) {
      out.set(rel || '/', `dir ${mode}`)
      for (const name of readdirSync(path)) visit(join(path, name), `${rel}/${name}`)
    } else if (stats.isSymbolicLink()) out.set(rel, `link ${readlinkSync(path)}`)
    else out.set(rel, `file ${mode} ${digest(readFileSync(path))}`)
  }
  visit(root, '')
  return out
}

/** An exporter writing what it restores into the same map shape as onDisk. */
function mapExporter(out: Map<string, string>): Exporter {
  return {
    root: 'memory:/',
    async createDirectory(path, info) {
      out.set(path, `dir ${info.mode!.toString(8)}`)
    },
    async storeFile(path, data, info) {
      out.set(path, `file ${info.mode!.toString(8)} ${digest(await readAll(data))}`)
    },
    async createLink(path, target) {
      out.set(path, `link ${target}`)
    },
    async setMetadata() {},
    async close() {},
  }
}

/** An entry as stored, without its access time: what reuse must reproduce exactly. */
function comparable(entry: Entry): string {
  const {atime: _atime, ...info} = entry.info
  return encodeEntry({...entry, info}).toString('base64')
}

async function entries(snapshot: Snapshot): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const [path, entry] of snapshot.walk(snapshot.root)) out.set(path, comparable(entry))
  return out
}

describe('re-backup carries unchanged subtrees over from the parent snapshot', () => {
  let dir: string
  let src: string
  let repo: Repository
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-reuse-'))
    src = join(dir, 'src')
    // A chain six levels deep, each level with a file, a symlink and an unchanged sibling subtree.
    let level = src
    for (let depth = 1; depth <= 6; depth++) {
      mkdirSync(join(level, `side${depth}`, 'inner'), {recursive: true})
      writeFileSync(join(level, `side${depth}`, 'inner', 'kept.txt'), `side ${depth}\n`)
      writeFileSync(join(level, `side${depth}`, 'note.txt'), `note ${depth}\n`)
      writeFileSync(join(level, `file${depth}.txt`), `level ${depth}\n`.repeat(depth * 100))
      symlinkSync(`file${depth}.txt`, join(level, `link${depth}`))
      level = join(level, `d${depth}`)
      mkdirSync(level)
    }
    writeFileSync(join(level, 'deep.txt'), 'the deepest file\n')
    mkdirSync(join(level, 'deepdir'))
    writeFileSync(join(level, 'deepdir', 'x'), 'x\n')
    const storage = new MemoryStorage()
    await Repository.create(storage, {})
    repo = await Repository.open(storage, {cacheDir: join(dir, 'cache'), passphrase: async () => Buffer.alloc(0), logger: quiet})
  })
  afterEach(async () => {
    await repo.close()
    rmSync(dir, {recursive: true, force: true})
  })

  let origins = 0
  const deep = () => join(src, 'd1', 'd2', 'd3', 'd4', 'd5', 'd6')

  /**
   * Backs up, changes the tree, backs up again with the first snapshot as parent. The second
   * snapshot must hold exactly what a backup without a parent holds (access times aside),
   * restore to the tree on disk, and pass a full check.
   */
  async function rebackup(change: () => void, late: string[] = []): Promise<{carried: number; snapshot: Snapshot; parent: Snapshot}> {
    const first = await backup(repo, [dirImporter(src)], {tmpDir: dir})
    change()
    const second = await backup(repo, [dirImporter(src, 'here', late)], {tmpDir: dir})
    // Another origin: no parent snapshot, every entry built afresh.
    const third = await backup(repo, [dirImporter(src, `elsewhere-${++origins}`)], {tmpDir: dir})
    const snapshot = new Snapshot(repo, second.snapshot!)
    const fresh = new Snapshot(repo, third.snapshot!)
    expect(await entries(snapshot)).toEqual(await entries(fresh))
    expect(second.snapshot!.summary).toEqual(third.snapshot!.summary)
    expect(Buffer.from(second.snapshot!.trees.names).equals(Buffer.from(third.snapshot!.trees.names))).toBe(true)
    expect(Buffer.from(second.snapshot!.trees.types).equals(Buffer.from(third.snapshot!.trees.types))).toBe(true)

    const restored = new Map<string, string>()
    const progress = await restore(snapshot, snapshot.root, mapExporter(restored))
    expect(progress.errors).toBe(0)
    expect(restored).toEqual(onDisk(src))
    const checked = await check(repo, [{snapshot, path: snapshot.root}])
    expect(checked.problems).toEqual([])
    return {carried: second.carried, snapshot, parent: new Snapshot(repo, first.snapshot!)}
  }

  /** Entries of the tree on disk (the root included). */
  const count = () => onDisk(src).size

  it('carries the whole tree over when nothing changed', async () => {
    const {carried, snapshot, parent} = await rebackup(() => {})
    expect(carried).toBe(count())
    // Nothing changed: the snapshot's trees are the parent's.
    expect(snapshot.header.trees).toEqual(parent.header.trees)
  })

  it('sees a file changed six levels down, and carries over only what is beside its path', async () => {
    const {carried, snapshot} = await rebackup(() => writeFileSync(join(deep(), 'deep.txt'), 'changed, and longer than before\n'))
    // Every directory on the path is rebuilt; the side subtrees (4 entries each) and deepdir are carried.
    expect(carried).toBe(6 * 4 + 2)
    expect((await snapshot.entry(join(deep(), 'deep.txt')))!.info.size).toBe(32)
  })

  it('sees an entry renamed, removed or added deep down', async () => {
    await rebackup(() => renameSync(join(deep(), 'deep.txt'), join(deep(), 'renamed.txt')))
    await rebackup(() => rmSync(join(deep(), 'deepdir', 'x')))
    const {carried} = await rebackup(() => writeFileSync(join(deep(), 'deepdir', 'new'), 'new\n'))
    expect(carried).toBe(6 * 4)
  })

  it('sees a changed mode, and a changed mtime with nothing else', async () => {
    await rebackup(() => chmodSync(join(deep(), 'deepdir', 'x'), 0o600))
    await rebackup(() => chmodSync(join(src, 'd1', 'd2', 'side3', 'inner'), 0o700))
    await rebackup(() => utimesSync(join(deep(), 'deep.txt'), new Date(), new Date(2001, 1, 1)))
  })

  it('sees a directory replaced by a file, and a file by a directory', async () => {
    await rebackup(() => {
      rmSync(join(deep(), 'deepdir'), {recursive: true})
      writeFileSync(join(deep(), 'deepdir'), 'now a file\n')
    })
    await rebackup(() => {
      rmSync(join(deep(), 'deep.txt'))
      mkdirSync(join(deep(), 'deep.txt'))
    })
  })

  it('sees a symlink pointed elsewhere', async () => {
    await rebackup(() => {
      rmSync(join(src, 'd1', 'd2', 'link3'))
      symlinkSync('elsewhere', join(src, 'd1', 'd2', 'link3'))
    })
  })

  it('brings a carried subtree back when an entry under it arrives late (another scan order)', async () => {
    const late = join(deep(), 'deepdir', 'late')
    const {carried} = await rebackup(() => writeFileSync(late, 'late\n'), [late])
    // deepdir was carried before its new entry arrived, then staged again entry by entry.
    expect(carried).toBe(6 * 4)
  })
})

describe('sameEntry', () => {
  const base: Entry = {info: {type: 'file', size: 3, mode: 0o644, mtime: 5, atime: 6, ctime: 7, metadata: {a: '1', b: '2'}}, chunks: [[Buffer.alloc(32, 1), 3]]}
  const withInfo = (info: Partial<Entry['info']>): Entry => ({...base, info: {...base.info, ...info}})

  it('ignores the access time and the order of metadata keys', () => {
    expect(sameEntry(base, withInfo({atime: 99, metadata: {b: '2', a: '1'}}))).toBe(true)
  })

  it('sees any other field differ, appear or disappear', () => {
    expect(sameEntry(base, withInfo({metadata: {a: '1', b: '3'}}))).toBe(false)
    expect(sameEntry(base, withInfo({uid: 0}))).toBe(false)
    expect(sameEntry(withInfo({uid: 0}), base)).toBe(false)
    expect(sameEntry(base, withInfo({ctime: 8}))).toBe(false)
    expect(sameEntry(base, {...base, chunks: [[Buffer.alloc(32, 2), 3]]})).toBe(false)
    expect(sameEntry(base, {...base, error: 'permission denied'})).toBe(false)
  })
})

describe('sameUnchangedFile', () => {
  // What backup.ts builds for an unchanged file: the scanned metadata with a content type, the
  // previous entry's chunks or object. sameUnchangedFile must answer as sameEntry on that entry.
  const built = (previous: Entry, scanned: Entry['info'], contentType: string | undefined): Entry => ({
    info: {...scanned, contentType},
    chunks: previous.chunks,
    object: previous.object,
  })
  const chunks: Entry['chunks'] = [[Buffer.alloc(32, 1), 3]]
  const info = {type: 'file' as const, size: 3, mode: 0o644, mtime: 5, atime: 6, ctime: 7, ino: 9, metadata: {a: '1', b: '2'}}
  const previous: Entry[] = [
    {info: {...info, contentType: 'text/plain'}, chunks},
    {info, chunks},
    {info: {...info, contentType: 'text/plain', uid: 0}, chunks},
    {info: {...info, contentType: 'text/plain'}, object: Buffer.alloc(32, 2)},
    {info: {...info, contentType: 'text/plain'}, chunks, xattrs: Buffer.from('x')},
    {info: {...info, contentType: 'text/plain'}, chunks, target: 'elsewhere'},
    {info: {...info, contentType: 'text/plain'}, chunks, error: 'permission denied'},
    {info: {...info, contentType: 'text/plain', atime: undefined}, chunks},
  ]
  const scanned: Entry['info'][] = [
    info,
    {...info, atime: 99, metadata: {b: '2', a: '1'}},
    {...info, contentType: 'image/png'},
    {...info, uid: 0},
    {...info, uid: undefined},
    {...info, metadata: {a: '1', b: '3'}},
    {...info, metadata: undefined},
    {...info, ctime: 8},
    {...info, atime: undefined},
  ]

  it('answers as sameEntry on the entry it stands for, in every combination', () => {
    let equal = 0
    for (const p of previous) {
      for (const s of scanned) {
        for (const contentType of ['text/plain', 'image/png', undefined]) {
          const expected = sameEntry(p, built(p, s, contentType))
          expect(sameUnchangedFile(p, s, contentType), JSON.stringify({p, s, contentType})).toBe(expected)
          if (expected) equal++
        }
      }
    }
    // Some combinations are equal, most are not: both answers are exercised.
    expect(equal).toBeGreaterThan(3)
  })
})

describe('a directory of 5,000 files (more than a directory could keep waiting before)', () => {
  it('is carried whole when unchanged, and staged with the access times scanned now when one file changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plakar-reuse-large-'))
    const storage = new MemoryStorage()
    await Repository.create(storage, {})
    const repo = await Repository.open(storage, {cacheDir: join(dir, 'cache'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    // Access times and one mtime the test changes between backups.
    const atimes = new Map<number, number>()
    let changedMtime = 0
    const record = (path: string, type: 'file' | 'directory', mtime: number): ImportRecord =>
      type === 'file'
        ? {path, info: {type, size: 0, mode: 0o644, mtime: mtime + (mtime === 1000 ? changedMtime : 0), atime: atimes.get(mtime) ?? mtime, ino: mtime}, open: async () => Readable.from([])}
        : {path, info: {type, size: 0, mode: 0o755, mtime}}
    const importer = (origin: string): Importer => ({
      type: 'test',
      origin,
      root: '/r',
      async *scan() {
        yield record('/r', 'directory', 1)
        yield record('/r/large', 'directory', 2)
        yield record('/r/small', 'directory', 3)
        yield record('/r/small/a', 'file', 4)
        for (let i = 0; i < 5000; i++) yield record(`/r/large/f${String(i).padStart(4, '0')}`, 'file', 10 + i)
      },
      async close() {},
    })
    /** Every entry as stored, access time included. */
    const stored = async (snapshot: Snapshot) => {
      const out = new Map<string, string>()
      for await (const [path, entry] of snapshot.walk(snapshot.root)) out.set(path, encodeEntry(entry).toString('base64'))
      return out
    }
    try {
      const first = await backup(repo, [importer('here')], {tmpDir: dir})
      const again = await backup(repo, [importer('here')], {tmpDir: dir})
      // Everything, the root included: the parent's trees are this snapshot's.
      expect(again.carried).toBe(5004)
      expect(again.snapshot!.trees).toEqual(first.snapshot!.trees)

      // One file of the large directory changed, another was read since: the large directory is
      // staged from its waiting entries, each with the access time scanned now.
      changedMtime = 1
      atimes.set(2000, 99_999)
      const changed = await backup(repo, [importer('here')], {tmpDir: dir})
      const fresh = await backup(repo, [importer('elsewhere')], {tmpDir: dir})
      expect(changed.carried).toBe(2)
      const snapshot = new Snapshot(repo, changed.snapshot!)
      expect((await snapshot.entry('/r/large/f1990'))!.info.atime).toBe(99_999)
      expect(await stored(snapshot)).toEqual(await stored(new Snapshot(repo, fresh.snapshot!)))
      expect(changed.snapshot!.trees).toEqual(fresh.snapshot!.trees)
    } finally {
      await repo.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('files looked up in the tree leaf at hand, or through the reading pool when a leaf must be read', () => {
  it('reads exactly the files that changed, wherever they fall in the parent tree’s leaves, and builds what a backup without a parent builds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plakar-reuse-leaves-'))
    const storage = new MemoryStorage()
    await Repository.create(storage, {})
    const repo = await Repository.open(storage, {cacheDir: join(dir, 'cache'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    // 40 directories of 150 files (many tree leaves); a changed file has one more byte and mtime.
    const changed = new Set<string>()
    const opened: string[] = []
    const paths: string[] = []
    for (let d = 0; d < 40; d++) for (let f = 0; f < 150; f++) paths.push(`/r/d${String(d).padStart(2, '0')}/f${String(f).padStart(3, '0')}`)
    const file = (path: string, ino: number): ImportRecord => {
      const size = 10 + (changed.has(path) ? 1 : 0)
      return {
        path,
        info: {type: 'file', size, mode: 0o644, mtime: 1000 + (changed.has(path) ? 1 : 0), ctime: 1000, ino},
        open: async () => {
          opened.push(path)
          return Readable.from([Buffer.alloc(size, path)])
        },
      }
    }
    const importer = (origin: string): Importer => ({
      type: 'test',
      origin,
      root: '/r',
      async *scan() {
        yield {path: '/r', info: {type: 'directory', size: 0, mode: 0o755, mtime: 1}}
        let ino = 10
        for (let d = 0; d < 40; d++) {
          yield {path: `/r/d${String(d).padStart(2, '0')}`, info: {type: 'directory', size: 0, mode: 0o755, mtime: 2}}
          for (let f = 0; f < 150; f++) yield file(paths[d * 150 + f], ino++)
        }
      },
      async close() {},
    })
    try {
      await backup(repo, [importer('here')], {tmpDir: dir})
      opened.length = 0
      const again = await backup(repo, [importer('here')], {tmpDir: dir})
      expect(opened).toEqual([])
      expect(again.carried).toBe(1 + 40 * 151)
      // Every 37th file, and the first and last ones: at every place of a leaf, at a leaf's start too.
      for (let i = 0; i < paths.length; i += 37) changed.add(paths[i])
      changed.add(paths[paths.length - 1])
      const third = await backup(repo, [importer('here')], {tmpDir: dir})
      expect(opened.sort()).toEqual([...changed].sort())
      opened.length = 0
      const fresh = await backup(repo, [importer('elsewhere')], {tmpDir: dir})
      expect(third.snapshot!.trees).toEqual(fresh.snapshot!.trees)
      expect(third.snapshot!.summary).toEqual(fresh.snapshot!.summary)
    } finally {
      await repo.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

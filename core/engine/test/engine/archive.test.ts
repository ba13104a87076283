import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'
import tarStream from 'tar-stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {archiveStream} from '../../src/engine/archive.js'
import {backup} from '../../src/engine/backup.js'
import {Snapshot} from '../../src/engine/snapshot.js'
import {type Importer, type ImportRecord, readAll} from '@plakar/sdk'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

const big = randomBytes(200_000)
const files: Record<string, Buffer> = {
  '/r/docs/big.bin': big,
  '/r/docs/notes.txt': Buffer.from('one\ntwo\nthree\n'),
  '/r/docs/empty': Buffer.alloc(0),
  '/r/docs/sub/deep.md': Buffer.from('# deep\n'),
  '/r/top.txt': Buffer.from('top\n'),
}

function record(path: string, data: Buffer): ImportRecord {
  return {path, info: {type: 'file', size: data.length, mode: 0o640, mtime: 1_700_000_000_000}, open: async () => Readable.from([data])}
}

const dir = (path: string): ImportRecord => ({path, info: {type: 'directory', size: 0, mode: 0o750, mtime: 1_700_000_000_000}})

function importer(): Importer {
  return {
    type: 'test',
    origin: 'here',
    root: '/r',
    async *scan() {
      yield dir('/r')
      yield dir('/r/docs')
      yield dir('/r/docs/sub')
      for (const [path, data] of Object.entries(files)) yield record(path, data)
      yield {path: '/r/docs/link', info: {type: 'symlink', size: 0, mtime: 1}, target: 'notes.txt'}
      yield {path: '/r/docs/broken', info: {type: 'file', size: 0}, error: 'permission denied'} as unknown as ImportRecord
    },
    async close() {},
  }
}

async function untar(stream: Readable): Promise<Map<string, {type: string; data: Buffer; linkname?: string}>> {
  const out = new Map<string, {type: string; data: Buffer; linkname?: string}>()
  const extract = tarStream.extract()
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      readAll(body as unknown as Readable).then((data) => {
        out.set(header.name, {type: header.type ?? 'file', data, linkname: header.linkname ?? undefined})
        next()
      }, reject)
    })
    extract.on('finish', resolve)
    extract.on('error', reject)
  })
  stream.pipe(extract)
  await done
  return out
}

describe('snapshot content', () => {
  let work: string
  let repo: Repository
  let snapshot: Snapshot

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'plakar-archive-'))
    const storage = new MemoryStorage()
    // Small chunks: the big file spans many chunks, so ranges cross chunk boundaries.
    await Repository.create(storage, {chunking: {algorithm: 'fastcdc', min: 1024, avg: 4096, max: 16384}})
    repo = await Repository.open(storage, {cacheDir: join(work, 'cache'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    const result = await backup(repo, [importer()], {tmpDir: work})
    snapshot = new Snapshot(repo, result.snapshot!)
  })
  afterAll(async () => {
    await repo.close()
    rmSync(work, {recursive: true, force: true})
  })

  it('reads any byte range of a file, fetching only the chunks it overlaps', async () => {
    const entry = await snapshot.requireEntry('/r/docs/big.bin')
    expect((await snapshot.chunks(entry)).length).toBeGreaterThan(10)
    const ranges = [
      [0, 1],
      [0, big.length],
      [5000, 5001],
      [4095, 70_001],
      [big.length - 10, big.length],
      [big.length - 10, big.length + 100],
      [123_456, 123_456],
    ]
    for (const [start, end] of ranges) {
      const got = await readAll(await snapshot.open(entry, {start, end}))
      expect(got.equals(big.subarray(start, end)), `bytes ${start}-${end}`).toBe(true)
    }
  })

  it('streams a directory as tar and tar.gz with every file, directory and link', async () => {
    const skipped: string[] = []
    for (const format of ['tar', 'tar.gz'] as const) {
      let stream = archiveStream(snapshot, '/r/docs', format, {onSkip: (p) => skipped.push(p)})
      if (format === 'tar.gz') stream = stream.pipe(createGunzip())
      const entries = await untar(stream)
      expect([...entries.keys()].sort()).toEqual(['docs', 'docs/big.bin', 'docs/empty', 'docs/link', 'docs/notes.txt', 'docs/sub', 'docs/sub/deep.md'])
      expect(entries.get('docs/big.bin')!.data.equals(big)).toBe(true)
      expect(entries.get('docs/sub/deep.md')!.data.toString()).toBe('# deep\n')
      expect(entries.get('docs/link')).toMatchObject({type: 'symlink', linkname: 'notes.txt'})
      expect(entries.get('docs/sub')!.type).toBe('directory')
    }
    expect(skipped).toEqual(['/r/docs/broken', '/r/docs/broken'])
  })

  it('streams a directory as a zip that a standard unzipper reads', async () => {
    const zip = await readAll(archiveStream(snapshot, '/r', 'zip'))
    const path = join(work, 'r.zip')
    writeFileSync(path, zip)
    // Python's zipfile is an independent reader of the format.
    const listing = JSON.parse(
      execFileSync('python3', ['-c', 'import sys,zipfile,json,hashlib;z=zipfile.ZipFile(sys.argv[1]);print(json.dumps({i.filename:hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()}))', path], {encoding: 'utf8'}),
    ) as Record<string, string>
    const sha = (b: Buffer) => execFileSync('python3', ['-c', 'import sys,hashlib;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'], {input: b, encoding: 'utf8'}).trim()
    expect(Object.keys(listing).sort()).toEqual(['r/', 'r/docs/', 'r/docs/big.bin', 'r/docs/empty', 'r/docs/link', 'r/docs/notes.txt', 'r/docs/sub/', 'r/docs/sub/deep.md', 'r/top.txt'])
    expect(listing['r/docs/big.bin']).toBe(sha(big))
    expect(listing['r/top.txt']).toBe(sha(files['/r/top.txt']))
  })

  it('archives a single file under its own name', async () => {
    const entries = await untar(archiveStream(snapshot, '/r/top.txt', 'tar'))
    expect([...entries.keys()]).toEqual(['top.txt'])
  })
})

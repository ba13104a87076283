import {spawn} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import Database from 'better-sqlite3'
import {isNotFound} from '@plakar/sdk'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {sqlitePath} from '../src/location.js'
import {SqliteStorage} from '../src/storage.js'

const ID = 'ab'.repeat(32)

describe('sqlite location', () => {
  it('accepts sqlite:/abs, sqlite:///abs, relative and ~ paths', () => {
    expect(sqlitePath('sqlite:/srv/r.db')).toBe('/srv/r.db')
    expect(sqlitePath('sqlite:///srv/r.db')).toBe('/srv/r.db')
    expect(sqlitePath('sqlite:r.db', '/home/u')).toBe('/home/u/r.db')
    expect(sqlitePath('sqlite:~/r.db')).toMatch(/\/r\.db$/)
  })
  it('refuses an empty path and a host', () => {
    expect(() => sqlitePath('sqlite:')).toThrow(/invalid sqlite location/)
    expect(() => sqlitePath('sqlite://host/r.db')).toThrow(/invalid sqlite location/)
  })
})

describe('sqlite storage files', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-sqlite-'))
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  it('open() of a missing file is not-found and creates nothing', async () => {
    const storage = new SqliteStorage(join(dir, 'none.db'))
    const error = await storage.open().catch((e) => e)
    expect(isNotFound(error)).toBe(true)
    expect((error as Error).message).toMatch(/^no repository at sqlite:/)
    await storage.close()
    const {existsSync} = await import('node:fs')
    expect(existsSync(join(dir, 'none.db'))).toBe(false)
  })

  it('a file that is not SQLite gives a one-line error', async () => {
    await writeFile(join(dir, 'junk.db'), Buffer.alloc(8192, 'x'))
    const storage = new SqliteStorage(join(dir, 'junk.db'))
    await expect(storage.open()).rejects.toThrow(/is not an SQLite database$/)
    await storage.close()
  })

  it('an SQLite database of something else is not a repository, and create() refuses it', async () => {
    const other = new Database(join(dir, 'app.db'))
    other.exec('CREATE TABLE users (name TEXT)')
    other.close()
    const storage = new SqliteStorage(join(dir, 'app.db'))
    expect(isNotFound(await storage.open().catch((e) => e))).toBe(true)
    await expect(storage.create(Buffer.from('c'))).rejects.toThrow(/SQLite database of something else/)
    await storage.close()
  })

  it('a newer layout version is refused with exit code 78', async () => {
    const file = join(dir, 'r.db')
    const storage = new SqliteStorage(file)
    await storage.create(Buffer.from('c'))
    await storage.close()
    const db = new Database(file)
    db.prepare(`UPDATE meta SET value = '99' WHERE key = 'version'`).run()
    db.close()
    const again = new SqliteStorage(file)
    const error = (await again.open().catch((e) => e)) as {message: string; plakarExitCode: number}
    expect(error.message).toMatch(/newer than this plugin/)
    expect(error.plakarExitCode).toBe(78)
    await again.close()
  })

  it('new databases use WAL, 64 KiB pages and incremental vacuum; deleting frees space', async () => {
    const file = join(dir, 'r.db')
    const storage = new SqliteStorage(file)
    await storage.create(Buffer.from('c'))
    const {Readable} = await import('node:stream')
    await storage.put('packfile', ID, Readable.from([Buffer.alloc(8 << 20, 1)]), 8 << 20)
    await storage.delete('packfile', ID)
    await storage.close()
    const db = new Database(file, {readonly: true})
    expect(db.pragma('journal_mode', {simple: true})).toBe('wal')
    expect(db.pragma('page_size', {simple: true})).toBe(65536)
    expect(db.pragma('auto_vacuum', {simple: true})).toBe(2)
    expect(db.pragma('page_count', {simple: true}) as number).toBeLessThan(40)
    db.close()
  })

  it('a writer killed in the middle of a put leaves no object; its rows are reclaimed later', async () => {
    const file = join(dir, 'r.db')
    const storage = new SqliteStorage(file, {chunkSize: 65536})
    await storage.create(Buffer.from('c'))
    await storage.close()
    // A child puts an object whose source never ends, and is killed once chunks are written.
    const module = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'storage.js')).href
    const script = `
      import {Readable} from 'node:stream'
      import {SqliteStorage} from ${JSON.stringify(module)}
      const s = new SqliteStorage(${JSON.stringify(file)}, {chunkSize: 65536})
      let n = 0
      const source = new Readable({read() { setTimeout(() => { this.push(Buffer.alloc(65536, 7)); if (++n === 20) console.log('written') }, 2) }})
      await s.put('packfile', '${ID}', source, 1 << 30)`
    const child = spawn('node', ['--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'inherit']})
    await new Promise<void>((resolve) => child.stdout.on('data', (d) => String(d).includes('written') && resolve()))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.on('exit', resolve))

    const reader = new SqliteStorage(file)
    expect(isNotFound(await reader.stat('packfile', ID).catch((e) => e))).toBe(true)
    const ids: string[] = []
    for await (const id of reader.list('packfile')) ids.push(id)
    expect(ids).toEqual([])
    await reader.close()
    let db = new Database(file)
    expect(db.prepare('SELECT count(*) FROM chunks').pluck().get()).toBeGreaterThan(0)
    // A day later, the next open reclaims the abandoned upload.
    db.prepare('UPDATE contents SET created = created - 2 * 86400000').run()
    db.close()
    const later = new SqliteStorage(file)
    await later.open()
    await later.close()
    db = new Database(file, {readonly: true})
    expect(db.prepare('SELECT count(*) FROM chunks').pluck().get()).toBe(0)
    expect(db.prepare('SELECT count(*) FROM contents').pluck().get()).toBe(0)
    db.close()
  }, 60_000)
})

import {execFile} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {SqliteStorage} from '../src/storage.js'
// @ts-expect-error plain ESM helper shared with the child processes
import {contentOf, idOf} from './writer-child.mjs'

const run = promisify(execFile)
const CHILD = join(import.meta.dirname, 'writer-child.mjs')

describe('sqlite storage with two writer processes at once', () => {
  let dir: string
  let file: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-sqlite-2w-'))
    file = join(dir, 'repo.db')
    const storage = new SqliteStorage(file)
    await storage.create(Buffer.from('config'))
    await storage.close()
  })
  afterAll(() => rm(dir, {recursive: true, force: true}))

  it('both processes store everything, shared ids once, nothing left half-written', async () => {
    const count = 40
    const shared = 15
    const [a, b] = await Promise.all([
      run('node', [CHILD, file, 'A', String(count), String(shared)]),
      run('node', [CHILD, file, 'B', String(count), String(shared)]),
    ])
    expect(a.stdout + b.stdout).toContain('A done')
    expect(a.stdout + b.stdout).toContain('B done')

    const storage = new SqliteStorage(file)
    const listed: string[] = []
    for await (const id of storage.list('packfile')) listed.push(id)
    const expected = new Set<string>()
    for (let i = 0; i < count; i++) {
      if (i < shared) expected.add(idOf('shared', i))
      else {
        expected.add(idOf('A', i))
        expected.add(idOf('B', i))
      }
    }
    expect(listed.sort()).toEqual([...expected].sort())
    for (const id of expected) {
      const parts: Buffer[] = []
      for await (const p of await storage.get('packfile', id)) parts.push(p as Buffer)
      expect(Buffer.concat(parts).equals(contentOf(id)), id).toBe(true)
    }
    await storage.close()

    // No upload of a losing duplicate put was left behind, and the file is sound.
    const db = new Database(file, {readonly: true})
    expect(db.prepare('SELECT count(*) FROM contents WHERE committed = 0').pluck().get()).toBe(0)
    expect(db.prepare('SELECT count(*) FROM chunks WHERE content NOT IN (SELECT content FROM objects)').pluck().get()).toBe(0)
    expect(db.pragma('integrity_check', {simple: true})).toBe('ok')
    expect(db.pragma('journal_mode', {simple: true})).toBe('wal')
    // The two processes really wrote at the same time: their uploads interleave.
    const contentOfId = db.prepare('SELECT content FROM objects WHERE id = ?').pluck()
    const order = (tag: string) => Array.from({length: count - shared}, (_, i) => contentOfId.get(idOf(tag, i + shared)) as number)
    const [ca, cb] = [order('A'), order('B')]
    expect(Math.min(...ca) < Math.max(...cb) && Math.min(...cb) < Math.max(...ca), 'uploads of A and B overlap in time').toBe(true)
    db.close()
  }, 120_000)
})

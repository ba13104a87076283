/**
 * The fs storage makes each object durable before put() resolves: file fsynced, renamed, its
 * directory fsynced, and a fan-out directory created for it fsynced in its parent. Durability
 * cannot be observed without a power cut, so the fsyncs are: node:fs/promises is wrapped.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

const synced: string[] = []
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>()
  const open: typeof fs.open = async (path, flags, mode) => {
    const handle = await fs.open(path, flags, mode)
    const sync = handle.sync.bind(handle)
    handle.sync = async () => {
      synced.push(String(path))
      return sync()
    }
    return handle
  }
  return {...fs, default: {...fs, open}, open}
})

const {FsStorage} = await import('../../plugins/fs/src/storage.js')

describe('fs storage durability', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-fs-durability-'))
  })
  afterAll(() => rm(dir, {recursive: true, force: true}))

  it('fsyncs a packfile, its directory, and a fan-out directory it created', async () => {
    const root = join(dir, 'repo')
    const storage = new FsStorage(root)
    await storage.create(Buffer.from('config'))
    const id = 'ab'.repeat(32)
    synced.length = 0
    await storage.put('packfile', id, Readable.from([Buffer.from('data')]), 4)
    expect(synced.filter((p) => !p.endsWith('.tmp')).sort()).toEqual([join(root, 'packfiles'), join(root, 'packfiles', 'ab')])
    expect(synced.some((p) => p.startsWith(join(root, 'packfiles', 'ab', id)) && p.endsWith('.tmp'))).toBe(true)
    // The next packfile in the same fan-out directory needs no fsync of the parent.
    synced.length = 0
    await storage.put('packfile', `ab${'cd'.repeat(31)}`, Readable.from([Buffer.from('data')]), 4)
    expect(synced.filter((p) => !p.endsWith('.tmp'))).toEqual([join(root, 'packfiles', 'ab')])
  })
})

import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'
import {listLocks, RepositoryLock} from '../../src/repository/lock.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const owner = {host: 'h', pid: 1, user: 'u'}

describe('RepositoryLock', () => {
  let dir: string
  let storage: MemoryStorage
  let repo: Repository
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-lock-'))
    storage = new MemoryStorage()
    await Repository.create(storage, {})
    repo = await Repository.open(storage, {cacheDir: dir, passphrase: async () => Buffer.alloc(0), logger: {debug() {}, info() {}, warn() {}}})
  })
  afterEach(async () => {
    await repo.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it('a shared lock excludes an exclusive one, and release removes it', async () => {
    const shared = await RepositoryLock.acquire(repo, 'shared', owner)
    await expect(RepositoryLock.acquire(repo, 'exclusive', owner)).rejects.toThrow(/locked by a backup/)
    await shared.release()
    expect(await listLocks(repo)).toEqual([])
  })

  it('leaves no lock behind when released while a refresh is writing the next one', async () => {
    const lock = await RepositoryLock.acquire(repo, 'shared', owner)
    let unblock!: () => void
    const blocked = new Promise<void>((resolve) => (unblock = resolve))
    let reached!: () => void
    const writing = new Promise<void>((resolve) => (reached = resolve))
    storage.beforePut = (kind) => {
      if (kind !== 'lock') return undefined
      reached()
      return blocked
    }
    const refreshing = lock.refresh()
    await writing
    await lock.release()
    unblock()
    await refreshing.catch(() => {})
    expect([...storage.objects.lock.keys()]).toEqual([])
  })

  it('is no longer held once its refreshes failed for longer than its lifetime', async () => {
    // The clock moves only when the test says so: a busy machine cannot expire the lock early.
    vi.useFakeTimers({toFake: ['Date']})
    try {
      const lock = await RepositoryLock.acquire(repo, 'shared', owner, 200)
      expect(() => lock.assertHeld()).not.toThrow()
      storage.beforePut = (kind) => (kind === 'lock' ? Promise.reject(new Error('network down')) : undefined)
      await expect(lock.refresh()).rejects.toThrow(/network down/)
      vi.setSystemTime(Date.now() + 199)
      expect(() => lock.assertHeld()).not.toThrow()
      vi.setSystemTime(Date.now() + 1)
      expect(() => lock.assertHeld()).toThrow(/lock expired/)
      storage.beforePut = undefined
      await lock.refresh()
      expect(() => lock.assertHeld()).not.toThrow()
      await lock.release()
    } finally {
      vi.useRealTimers()
    }
  })
})

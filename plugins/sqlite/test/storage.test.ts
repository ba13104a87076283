import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {testStorage} from '@plakar/sdk/testing'
import {SqliteStorage} from '../src/storage.js'

// The database file does not exist yet: create() makes it, as `plakar at sqlite:… create` does.
testStorage('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-sqlite-storage-'))
  const file = join(dir, 'sub', 'repo.db')
  return {storage: new SqliteStorage(file), reopen: async () => new SqliteStorage(file), cleanup: () => rm(dir, {recursive: true, force: true})}
})

// Small chunk rows: every range and streaming path crosses many chunk boundaries.
testStorage('sqlite (4093-byte chunks)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-sqlite-storage-'))
  const file = join(dir, 'repo.db')
  return {
    storage: new SqliteStorage(file, {chunkSize: 4093}),
    reopen: async () => new SqliteStorage(file, {chunkSize: 4093}),
    cleanup: () => rm(dir, {recursive: true, force: true}),
  }
}, {largeObjectSize: 8 * 1024 * 1024, listingCount: 1200})

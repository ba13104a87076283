import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {testStorage} from '@plakar/sdk/testing'
import {FsStorage} from '../src/storage.js'

// The repository directory does not exist yet: create() makes it, as `plakar create` does.
testStorage('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-fs-storage-'))
  const repo = join(dir, 'repo')
  return {
    storage: new FsStorage(repo),
    reopen: async () => new FsStorage(repo),
    cleanup: () => rm(dir, {recursive: true, force: true}),
  }
})

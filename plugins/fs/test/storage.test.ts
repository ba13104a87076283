import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {testStorage} from '@plakar/core/testing'
import {FsStorage} from '../src/storage.js'

// The repository directory does not exist yet: create() makes it, as `plakar create` does.
testStorage('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-fs-storage-'))
  return {storage: new FsStorage(join(dir, 'repo')), cleanup: () => rm(dir, {recursive: true, force: true})}
})

import {mkdir} from 'node:fs/promises'
import {materializeFixture, testImporter} from '@plakar/sdk/testing'
import createImporter from '../src/importer.js'
import {keyConfig, quietLogger, remoteDir} from './env.js'

// The fixture is written into the sshd's data directory (same machine), then scanned over SFTP.
// The test sshd logs in as root, who reads everything: no unreadable entries to meet.
testImporter(
  'sftp',
  async (fixture) => {
    const dir = await remoteDir('importer')
    const root = `${dir.local}/source root`
    await mkdir(root, {recursive: true})
    await materializeFixture(fixture, root)
    const importer = await createImporter({
      location: `${dir.location}/source%20root`,
      scheme: 'sftp',
      config: keyConfig(),
      logger: quietLogger,
      cacheDir: dir.local,
    })
    return {importer, cleanup: dir.cleanup}
  },
  {unreadable: false},
)

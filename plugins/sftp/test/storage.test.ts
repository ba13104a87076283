import {testStorage} from '@plakar/sdk/testing'
import {SftpStorage} from '../src/storage.js'
import {connector, remoteDir} from './env.js'

// Against the real OpenSSH sshd of the test services (test/support/services/sshd.ts).
testStorage('sftp', async () => {
  const dir = await remoteDir('storage')
  return {
    storage: new SftpStorage(connector(dir.location), dir.location),
    reopen: async () => new SftpStorage(connector(dir.location), dir.location),
    cleanup: dir.cleanup,
  }
})

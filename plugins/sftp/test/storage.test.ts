import {createServer} from 'node:net'
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
    // A port that was just free and is closed again: nothing answers there.
    unreachable: async () => {
      const location = `sftp://plakar@127.0.0.1:${await closedPort()}/repo`
      return new SftpStorage(connector(location), location)
    },
  }
})

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  return port
}

import {createServer} from 'node:net'
import {testStorage} from '@plakar/sdk/testing'
import {beforeAll} from 'vitest'
import createStorage from '../src/storage.js'
import {context, createBucket, describeS3, removePrefix, s3Location, uniqueName} from './s3.js'

describeS3('s3 storage on radosgw', () => {
  const bucket = uniqueName('plakar-storage')
  let n = 0
  beforeAll(() => createBucket(bucket))

  // Each test gets its own prefix of one bucket: repositories under bucket/prefix.
  testStorage('s3 (radosgw)', async () => {
    const top = `repo-${++n}`
    const location = s3Location(bucket, `${top}/nested`)
    return {
      storage: await createStorage(context(location)),
      reopen: () => createStorage(context(location)),
      cleanup: () => removePrefix(bucket, `${top}/`),
      // A port that was just free and is closed again: nothing answers there.
      unreachable: async () => createStorage(context(`s3://127.0.0.1:${await closedPort()}/${bucket}`)),
    }
  })
})

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  return port
}

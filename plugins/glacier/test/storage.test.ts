import {testStorage} from '@plakar/sdk/testing'
import {beforeAll} from 'vitest'
import createStorage from '../src/storage.js'
import {context, createBucket, describeRgw, glacierLocation, removePrefix, uniqueName} from './glacier.js'

describeRgw('glacier storage on radosgw', () => {
  const bucket = uniqueName('plakar-glacier')
  let n = 0
  beforeAll(() => createBucket(bucket))

  // Each test gets its own prefix of one bucket. radosgw serves archive classes directly (it
  // has no archive tier), and the suite stores packfiles without a kind, which stay hot.
  testStorage('glacier (radosgw)', async () => {
    const top = `repo-${++n}`
    const location = glacierLocation(bucket, `${top}/nested`)
    return {
      storage: await createStorage(context(location)),
      reopen: () => createStorage(context(location)),
      cleanup: () => removePrefix(bucket, `${top}/`),
    }
  })
})

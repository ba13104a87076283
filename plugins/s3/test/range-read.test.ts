import {PlakarError, readAll} from '@plakar/sdk'
import {pseudoRandomBytes, randomId} from '@plakar/sdk/testing'
import {afterAll, beforeAll, expect, it} from 'vitest'
import type {FaultProxy} from '../../../test/support/fault-proxy.js'
import createStorage from '../src/storage.js'
import {context, createBucket, describeS3, putBytes, removePrefix, rgwProxy, s3Config, uniqueName} from './s3.js'

const MiB = 1024 * 1024

// Ranged reads as restore makes them (several MB of a packfile, read whole into one buffer),
// through a proxy that cuts the download: the body is pushed piece by piece as it arrives, and
// a cut resumes from the last byte received.
describeS3('s3 storage: ranged reads whose body breaks off', () => {
  const bucket = uniqueName('plakar-range')
  const id = randomId()
  const size = 6 * MiB
  const data = pseudoRandomBytes('range-read', 0, size)
  let proxy: FaultProxy
  beforeAll(async () => {
    await createBucket(bucket)
    await putBytes(bucket, `r/packfiles/${id.slice(0, 2)}/${id}`, data)
    proxy = await rgwProxy()
  })
  afterAll(async () => {
    await proxy?.close()
    await removePrefix(bucket)
  })

  it('a range cut mid-body is resumed: exactly its bytes, read over a second connection', async () => {
    const storage = await createStorage(context(`s3://127.0.0.1:${proxy.port}/${bucket}/r`))
    try {
      const range = {offset: 123_457, length: 4 * MiB + 11}
      const before = proxy.stats.connections
      proxy.set({cutAfterBytes: MiB, direction: 'down', connections: 1})
      const got = await readAll(await storage.get('packfile', id, range), range.length)
      expect(Buffer.compare(got, data.subarray(range.offset, range.offset + range.length))).toBe(0)
      expect(proxy.stats.cuts).toBeGreaterThanOrEqual(1)
      expect(proxy.stats.connections - before).toBeGreaterThanOrEqual(2)
    } finally {
      proxy.clear()
      await storage.close()
    }
  })

  it('a range cut mid-body, with the server unreachable from then on, fails with one line naming the object', async () => {
    const storage = await createStorage(context(`s3://127.0.0.1:${proxy.port}/${bucket}/r`, s3Config({retries: 1})))
    try {
      proxy.set({cutAfterBytes: 256 * 1024, direction: 'down', connections: 1})
      proxy.once('cut', () => proxy.set({refuse: true}))
      const range = {offset: 0, length: 4 * MiB}
      const error = await readAll(await storage.get('packfile', id, range), range.length).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      expect(error).toBeInstanceOf(PlakarError)
      expect(error!.message).not.toContain('\n')
      expect(error!.message).toContain(`reading packfile ${id.slice(0, 16)}`)
    } finally {
      proxy.clear()
      await storage.close()
    }
  })
})

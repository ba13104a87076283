import {once} from 'node:events'
import type {Readable} from 'node:stream'
import {isNotFound} from '@plakar/sdk'
import {pseudoRandomBytes, pseudoRandomStream, randomId} from '@plakar/sdk/testing'
import {afterAll, beforeAll, expect, it} from 'vitest'
import type {FaultProxy} from '../../../test/support/fault-proxy.js'
import createStorage from '../src/storage.js'
import {context, createBucket, describeS3, putBytes, removePrefix, rgwProxy, uniqueName} from './s3.js'

const MiB = 1024 * 1024

/** Resolves when the proxy's connection `index` has closed. */
function closedConnection(proxy: FaultProxy, index: number): Promise<void> {
  return new Promise((resolve) => {
    const onClosed = (closed: number) => {
      if (closed !== index) return
      proxy.off('closed', onClosed)
      resolve()
    }
    proxy.on('closed', onClosed)
  })
}

// radosgw behind a throttling proxy: an upload or download that is not stopped would take
// tens of seconds; an aborted one must reject at once and close its connection.
describeS3('s3 storage: an aborted call stops its request in flight', () => {
  const bucket = uniqueName('plakar-abort')
  let proxy: FaultProxy
  beforeAll(async () => {
    await createBucket(bucket)
    proxy = await rgwProxy()
  })
  afterAll(async () => {
    await proxy?.close()
    await removePrefix(bucket)
  })

  it('a put aborted mid-upload rejects, closes its connection and stores nothing', async () => {
    const storage = await createStorage(context(`s3://127.0.0.1:${proxy.port}/${bucket}/put`))
    try {
      // 4 MiB at 64 KiB/s: a minute of upload unless the abort stops it.
      proxy.set({bytesPerSecond: 64 * 1024, direction: 'up'})
      const size = 4 * MiB
      const id = randomId()
      const controller = new AbortController()
      const connected = once(proxy, 'connection')
      const putting = storage.put('packfile', id, pseudoRandomStream('abort-put', size), size, {signal: controller.signal})
      const [index] = (await connected) as [number]
      const closed = closedConnection(proxy, index)
      controller.abort()
      await expect(putting).rejects.toMatchObject({name: 'AbortError'})
      await closed
      expect(proxy.stats.bytesUp).toBeLessThan(size)
      proxy.clear()
      await expect(storage.stat('packfile', id)).rejects.toSatisfy(isNotFound)
    } finally {
      proxy.clear()
      await storage.close()
    }
  })

  it('a get aborted mid-download ends its stream with the abort and closes its connection', async () => {
    const id = randomId()
    const size = 4 * MiB
    await putBytes(bucket, `get/packfiles/${id.slice(0, 2)}/${id}`, pseudoRandomBytes('abort-get', 0, size))
    const storage = await createStorage(context(`s3://127.0.0.1:${proxy.port}/${bucket}/get`))
    try {
      proxy.set({bytesPerSecond: 64 * 1024, direction: 'down'})
      const controller = new AbortController()
      const connected = once(proxy, 'connection')
      const stream: Readable = await storage.get('packfile', id, undefined, {signal: controller.signal})
      const [index] = (await connected) as [number]
      const closed = closedConnection(proxy, index)
      const chunks = stream[Symbol.asyncIterator]()
      expect((await chunks.next()).done).toBe(false)
      controller.abort()
      await expect(
        (async () => {
          for (let next = await chunks.next(); !next.done; next = await chunks.next());
        })(),
      ).rejects.toMatchObject({name: 'AbortError'})
      await closed
      expect(proxy.stats.bytesDown).toBeLessThan(size)
    } finally {
      proxy.clear()
      await storage.close()
    }
  })

  it('a call with an already aborted signal sends nothing', async () => {
    const storage = await createStorage(context(`s3://127.0.0.1:${proxy.port}/${bucket}/early`))
    try {
      const before = proxy.stats.connections
      const signal = AbortSignal.abort()
      await expect(storage.stat('state', randomId(), {signal})).rejects.toMatchObject({name: 'AbortError'})
      await expect(storage.open({signal})).rejects.toMatchObject({name: 'AbortError'})
      expect(proxy.stats.connections).toBe(before)
    } finally {
      await storage.close()
    }
  })
})

import {readFileSync, writeFileSync} from 'node:fs'
import {Readable} from 'node:stream'
import {isNotFound} from '@plakar/sdk'
import {pseudoRandomBytes, pseudoRandomStream, randomId} from '@plakar/sdk/testing'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {FaultProxy} from '../../../test/support/fault-proxy.js'
import {SftpStorage} from '../src/storage.js'
import {connector, remoteDir, sshdEnv} from './env.js'

const MiB = 1024 * 1024
const env = sshdEnv()
let proxy: FaultProxy
let knownHosts: string
let dir: Awaited<ReturnType<typeof remoteDir>>

// The real sshd behind a throttling proxy: a transfer that is not stopped would take minutes.
beforeAll(async () => {
  proxy = await FaultProxy.start({host: '127.0.0.1', port: env.port})
  const key = readFileSync(env.hostPub, 'utf8').split(/\s+/).slice(0, 2).join(' ')
  knownHosts = `${env.root}/../abort_known_hosts`
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${key}\n`)
  dir = await remoteDir('abort', proxy.port)
})
afterAll(async () => {
  await proxy.close()
  await dir.cleanup()
})
afterEach(() => proxy.clear())

async function storage(): Promise<SftpStorage> {
  const location = `${dir.location}/repo-${randomId().slice(0, 8)}`
  const s = new SftpStorage(connector(location, {identity: env.key, known_hosts: knownHosts, connections: 1}), location)
  await s.create(Buffer.from('config'))
  return s
}

/** A source that says when `after` bytes have been pulled from it, and counts what was pulled. */
function watchedSource(seed: string, size: number, after: number): {stream: Readable; pulled: () => number; reached: Promise<void>} {
  let pulled = 0
  let reach!: () => void
  const reached = new Promise<void>((resolve) => (reach = resolve))
  const inner = pseudoRandomStream(seed, size)
  async function* counted() {
    for await (const chunk of inner) {
      pulled += (chunk as Buffer).length
      if (pulled >= after) reach()
      yield chunk as Buffer
    }
  }
  return {stream: Readable.from(counted(), {objectMode: false}), pulled: () => pulled, reached}
}

describe('sftp storage: an aborted call stops its transfer', () => {
  it('a put aborted mid-upload rejects, stops pulling its source and stores nothing', async () => {
    const s = await storage()
    try {
      proxy.set({bytesPerSecond: 128 * 1024, direction: 'up'})
      const size = 64 * MiB
      const id = randomId()
      const source = watchedSource(id, size, 2 * MiB)
      const controller = new AbortController()
      const putting = s.put('packfile', id, source.stream, size, {signal: controller.signal})
      await source.reached
      controller.abort()
      await expect(putting).rejects.toMatchObject({name: 'AbortError'})
      const pulledAtAbort = source.pulled()
      expect(pulledAtAbort).toBeLessThan(size)
      expect(source.stream.destroyed).toBe(true)
      proxy.clear()
      await expect(s.stat('packfile', id)).rejects.toSatisfy(isNotFound)
      expect(source.pulled()).toBe(pulledAtAbort)
    } finally {
      await s.close()
    }
  })

  it('a get aborted mid-download ends its stream with the abort', async () => {
    const s = await storage()
    try {
      const id = randomId()
      const size = 16 * MiB
      await s.put('packfile', id, pseudoRandomStream(id, size), size)
      proxy.set({bytesPerSecond: 128 * 1024, direction: 'down'})
      const controller = new AbortController()
      const stream = await s.get('packfile', id, undefined, {signal: controller.signal})
      const chunks = stream[Symbol.asyncIterator]()
      const first = await chunks.next()
      expect(Buffer.from(first.value as Buffer).equals(pseudoRandomBytes(id, 0, (first.value as Buffer).length))).toBe(true)
      controller.abort()
      await expect(
        (async () => {
          for (let next = await chunks.next(); !next.done; next = await chunks.next());
        })(),
      ).rejects.toMatchObject({name: 'AbortError'})
    } finally {
      proxy.clear()
      await s.close()
    }
  })

  it('a call with an aborted signal rejects without waiting for the server', async () => {
    const s = await storage()
    try {
      // The server answers nothing from now on: only the abort can end these calls.
      proxy.set({stallAfterBytes: 0})
      const controller = new AbortController()
      const calls = [s.stat('state', randomId(), {signal: controller.signal}), s.open({signal: controller.signal})]
      controller.abort()
      for (const call of calls) await expect(call).rejects.toMatchObject({name: 'AbortError'})
    } finally {
      proxy.clear()
      proxy.cutAll()
      await s.close().catch(() => {})
    }
  })
})

import {readFileSync, writeFileSync} from 'node:fs'
import {Readable} from 'node:stream'
import {collect, pseudoRandomBytes, pseudoRandomStream, randomId} from '@plakar/sdk/testing'
import {isNotFound} from '@plakar/sdk'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {FaultProxy} from '../../../test/support/fault-proxy.js'
import type {SftpConfig} from '../src/connector.js'
import {SftpStorage} from '../src/storage.js'
import {connector, remoteDir, sshdEnv} from './env.js'

const MiB = 1024 * 1024
const env = sshdEnv()
let proxy: FaultProxy
let knownHosts: string
let dir: Awaited<ReturnType<typeof remoteDir>>

beforeAll(async () => {
  proxy = await FaultProxy.start({host: '127.0.0.1', port: env.port})
  // The proxy's port is another name for the server: pin its key under that name too.
  const key = readFileSync(env.hostPub, 'utf8').split(/\s+/).slice(0, 2).join(' ')
  knownHosts = `${env.root}/../proxy_known_hosts`
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${key}\n`)
  dir = await remoteDir('faults', proxy.port)
})
afterAll(async () => {
  await proxy.close()
  await dir.cleanup()
})
afterEach(() => proxy.clear())

/** A storage through the proxy, one connection, quick to notice a silent server (timeout 4 s). */
async function storage(config: SftpConfig = {}): Promise<SftpStorage> {
  const location = `${dir.location}/repo-${randomId().slice(0, 8)}`
  const s = new SftpStorage(connector(location, {identity: env.key, known_hosts: knownHosts, timeout: 4, retries: 5, connections: 1, ...config}), location)
  await s.create(Buffer.from('config'))
  return s
}

async function putSeeded(s: SftpStorage, id: string, size: number): Promise<void> {
  await s.put('packfile', id, pseudoRandomStream(id, size), size)
}

async function expectSeeded(s: SftpStorage, id: string, size: number): Promise<void> {
  const back = await collect(await s.get('packfile', id))
  expect(back.length).toBe(size)
  expect(back.equals(pseudoRandomBytes(id, 0, size)), 'content read back').toBe(true)
}

describe('sftp storage through a faulty network', () => {
  it('a put whose connection is cut resumes on a new one, resending only what was not acknowledged', async () => {
    const before = {...proxy.stats}
    // Only the next connection is cut: the one this storage opens for create() and the put.
    proxy.set({cutAfterBytes: 6 * MiB, direction: 'up', connections: 1})
    const s = await storage()
    const id = randomId()
    await putSeeded(s, id, 24 * MiB)
    expect(proxy.stats.cuts - before.cuts).toBe(1)
    expect(proxy.stats.connections - before.connections).toBeGreaterThanOrEqual(2)
    // What was acknowledged is not sent again: at most the 4 MiB window, plus handshakes.
    expect(proxy.stats.bytesUp - before.bytesUp).toBeLessThan(24 * MiB + 5 * MiB)
    await expectSeeded(s, id, 24 * MiB)
    await s.close()
  })

  it('a put completes even when every connection is cut after a few MiB', async () => {
    const s = await storage()
    const id = randomId()
    proxy.set({cutAfterBytes: 5 * MiB, direction: 'up'})
    await putSeeded(s, id, 20 * MiB)
    expect(proxy.stats.cuts).toBeGreaterThanOrEqual(3)
    proxy.clear()
    await expectSeeded(s, id, 20 * MiB)
    await s.close()
  })

  it('a get resumes after its connection is cut, bit-exact', async () => {
    const s = await storage()
    const id = randomId()
    await putSeeded(s, id, 16 * MiB)
    // FIN, not RST: a reset discards what is still in the socket buffers, so how much of the
    // 5 MiB reached the client would depend on how quickly this loaded machine read it.
    proxy.set({cutAfterBytes: 5 * MiB, direction: 'down', cutWith: 'close'})
    await expectSeeded(s, id, 16 * MiB)
    expect(proxy.stats.cuts).toBeGreaterThanOrEqual(2)
    await s.close()
  })

  it('a range get and a listing survive cuts', async () => {
    const s = await storage()
    const ids = Array.from({length: 40}, () => randomId())
    for (const id of ids) await s.put('state', id, Readable.from([Buffer.from(id)]), id.length)
    const big = randomId()
    await putSeeded(s, big, 8 * MiB)
    // Every connection dies after 1 MiB received: each carries a few 255 KiB READ replies. FIN,
    // not RST: a reset discards what the client has not read yet, and on a busy machine that
    // was every reply, six connections in a row, so the read gave up.
    proxy.set({cutAfterBytes: MiB, direction: 'down', cutWith: 'close'})
    const range = await collect(await s.get('packfile', big, {offset: 3 * MiB + 7, length: 3 * MiB}))
    expect(range.equals(pseudoRandomBytes(big, 3 * MiB + 7, 3 * MiB))).toBe(true)
    expect(proxy.stats.cuts).toBeGreaterThanOrEqual(2)
    proxy.set({cutAfterBytes: 20_000, direction: 'down', connections: 1})
    const listed: string[] = []
    for await (const id of s.list('state')) listed.push(id)
    expect(listed.sort()).toEqual(ids.sort())
    await s.close()
  })

  it('a stalled connection is noticed by keepalives and the transfer resumes', async () => {
    const s = await storage()
    const id = randomId()
    await putSeeded(s, id, 8 * MiB)
    proxy.set({stallAfterBytes: 2 * MiB, direction: 'down', connections: 1})
    proxy.cutAll() // the next connection is the stalled one
    const t0 = Date.now()
    await expectSeeded(s, id, 8 * MiB)
    const took = Date.now() - t0
    expect(took).toBeGreaterThan(2000) // waited for the keepalives (timeout 4 s: 3 unanswered, 1 s apart)
    expect(took).toBeLessThan(30_000)
    await s.close()
  })

  it('latency: pipelined requests keep large transfers fast', async () => {
    const s = await storage()
    const id = randomId()
    proxy.set({latencyMs: 25}) // 50 ms round trips
    const t0 = Date.now()
    await putSeeded(s, id, 16 * MiB)
    await expectSeeded(s, id, 16 * MiB)
    // One request at a time (32 KiB per round trip) would take 2 × 512 × 50 ms ≈ 51 s; pipelined,
    // it takes 2-3 s (the bound leaves room for a loaded machine).
    expect(Date.now() - t0).toBeLessThan(25_000)
    await s.close()
  })

  it('a server that keeps cutting early: the put fails with one line, leaves nothing, and the next put works', async () => {
    const s = await storage({retries: 2})
    const id = randomId()
    await s.stat('packfile', randomId()).catch(() => {}) // connection up before the faults
    proxy.set({cutAfterBytes: 64 * 1024, direction: 'up'})
    proxy.cutAll()
    const error = (await putSeeded(s, id, 4 * MiB).catch((e) => e)) as Error
    expect(error).toBeInstanceOf(Error)
    expect(error.message.split('\n')).toHaveLength(1)
    expect(error.message).toMatch(/gave up after 3 attempts/)
    proxy.clear()
    expect(isNotFound(await s.stat('packfile', id).catch((e) => e))).toBe(true)
    const listed: string[] = []
    for await (const x of s.list('packfile')) listed.push(x)
    expect(listed).toEqual([])
    await putSeeded(s, id, 4 * MiB)
    await expectSeeded(s, id, 4 * MiB)
    await s.close()
  })

  it('refused connections: one line after the retries', async () => {
    proxy.set({refuse: true})
    const location = `${dir.location}/refused`
    const s = new SftpStorage(connector(location, {identity: env.key, known_hosts: knownHosts, timeout: 2, retries: 2}), location)
    const error = (await s.open().catch((e) => e)) as Error
    expect(error.message.split('\n')).toHaveLength(1)
    expect(error.message).toMatch(/gave up after 3 attempts/)
    await s.close()
  })
})

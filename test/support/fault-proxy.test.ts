import {once} from 'node:events'
import net from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {FaultProxy} from './fault-proxy.js'

/** An echo server: what the proxy is tested against. */
let echo: net.Server
let port: number
beforeAll(async () => {
  echo = net.createServer((s) => s.on('error', () => {}).pipe(s))
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  port = (echo.address() as net.AddressInfo).port
})
afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())))

/** Sends `size` bytes through the proxy, returns what came back and how it ended (only a stall
 * test gives a short `timeoutMs`: it expects nothing more to come). */
function roundTrip(proxy: FaultProxy, size: number, timeoutMs = 60_000): Promise<{received: number; ended: string; ms: number}> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const socket = net.connect(proxy.port, '127.0.0.1')
    let received = 0
    const done = (ended: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({received, ended, ms: Date.now() - t0})
    }
    const timer = setTimeout(() => done('timeout'), timeoutMs)
    socket.on('data', (d) => {
      received += d.length
      if (received >= size) done('complete')
    })
    socket.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'))
    socket.on('close', () => done('closed'))
    socket.write(Buffer.alloc(size, 1))
  })
}

/** Sends `pieces` through the proxy to the echo server and returns what came back. */
function echoed(proxy: FaultProxy, pieces: Buffer[]): Promise<Buffer> {
  const total = pieces.reduce((n, p) => n + p.length, 0)
  return new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(proxy.port, '127.0.0.1')
    const parts: Buffer[] = []
    let length = 0
    socket.on('data', (d: Buffer) => {
      parts.push(d)
      length += d.length
      if (length >= total) {
        socket.destroy()
        resolve(Buffer.concat(parts))
      }
    })
    socket.on('error', reject)
    for (const piece of pieces) socket.write(piece)
  })
}

describe('fault proxy', () => {
  it('forwards untouched without faults', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port})
    expect((await roundTrip(proxy, 5 << 20)).ended).toBe('complete')
    expect(proxy.stats.bytesUp).toBe(5 << 20)
    await proxy.close()
  })

  it('flips bits: what comes back differs from what was sent, by as many bits as it counts', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port}, {flipProbability: 1, direction: 'up'})
    const sent = Buffer.alloc(256 * 1024, 0)
    const back = await echoed(proxy, [sent])
    let bits = 0
    for (const byte of back) for (let v = byte; v; v &= v - 1) bits++
    expect(proxy.stats.flips).toBeGreaterThan(0)
    expect(bits).toBe(proxy.stats.flips)
    await proxy.close()
  })

  it('flips the one byte at a given offset, once per connection', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port}, {flipAtByte: 100_000, direction: 'up'})
    const sent = Buffer.alloc(256 * 1024, 0)
    // In pieces, so that the offset falls inside a later chunk than the first.
    const pieces: Buffer[] = []
    for (let at = 0; at < sent.length; at += 7_000) pieces.push(sent.subarray(at, at + 7_000))
    const back = await echoed(proxy, pieces)
    expect(proxy.stats.flips).toBe(1)
    expect([...back.keys()].filter((i) => back[i] !== 0)).toEqual([100_000])
    expect(back[100_000]).toBe(1)
    await proxy.close()
  })

  it('adds latency each way without serialising chunks', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port}, {latencyMs: 100})
    const r = await roundTrip(proxy, 1 << 20)
    expect(r.ended).toBe('complete')
    expect(r.ms).toBeGreaterThanOrEqual(190)
    expect(r.ms).toBeLessThan(1500)
    await proxy.close()
  })

  it('throttles', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port}, {bytesPerSecond: 1 << 20, direction: 'up'})
    const r = await roundTrip(proxy, 512 * 1024)
    expect(r.ended).toBe('complete')
    expect(r.ms).toBeGreaterThanOrEqual(400)
    await proxy.close()
  })

  it('cuts after N bytes with a reset, only on the faulty connections', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port})
    proxy.set({cutAfterBytes: 100_000, direction: 'up', connections: 1})
    const cut = await roundTrip(proxy, 1 << 20)
    expect(cut.ended).toBe('ECONNRESET')
    expect(cut.received).toBeLessThanOrEqual(100_000)
    expect(proxy.stats.cuts).toBe(1)
    // The next connection is not faulty.
    expect((await roundTrip(proxy, 1 << 20)).ended).toBe('complete')
    await proxy.close()
  })

  it('stalls: the connection stays open and nothing more passes', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port}, {stallAfterBytes: 1000, direction: 'down'})
    const r = await roundTrip(proxy, 100_000, 600)
    expect(r.ended).toBe('timeout')
    expect(r.received).toBe(1000)
    await proxy.close()
  })

  it('refuses connections, and cutAll() cuts open ones', async () => {
    const proxy = await FaultProxy.start({host: '127.0.0.1', port}, {refuse: true, connections: 1})
    expect(['ECONNRESET', 'closed']).toContain((await roundTrip(proxy, 10)).ended)
    proxy.set({stallAfterBytes: 0})
    const accepted = once(proxy, 'connection')
    const pending = roundTrip(proxy, 10)
    await accepted
    expect(proxy.openConnections).toBe(1)
    proxy.cutAll()
    expect((await pending).ended).toBe('ECONNRESET')
    await proxy.close()
  })
})

import {EventEmitter} from 'node:events'
import net from 'node:net'

/**
 * A TCP proxy for tests that sits between a client and a real server on loopback and breaks
 * the connection on purpose: latency, bandwidth limits, cuts after N bytes (TCP RST or FIN),
 * stalls (the connection stays open, bytes vanish), refused connections, flipped bits (at random
 * or at one offset); for every connection
 * or only for the next few (a transient fault that a retry survives).
 *
 * ```ts
 * const proxy = await FaultProxy.start({host: '127.0.0.1', port: serverPort})
 * client.connect(proxy.port)                              // instead of serverPort
 * proxy.set({cutAfterBytes: 1 << 20, direction: 'up', connections: 1})  // the next connection dies after 1 MiB sent
 * proxy.set({latencyMs: 50})                              // every chunk delayed 50 ms each way
 * proxy.once('cut', () => proxy.set({refuse: true}))      // …and from then on the server is unreachable
 * proxy.clear(); proxy.cutAll(); await proxy.close()
 * ```
 *
 * Events: 'cut' (connection index) whenever a fault ends a connection, before the client can
 * notice — a test can change the faults at that exact point; 'connection' (connection index)
 * when a connection is accepted, so a test waits for it instead of for a while; 'closed'
 * (connection index) when either side of a connection has closed (a client that gave up).
 *
 * Byte counts are per connection and per direction, from the connection's first byte (the
 * protocol handshake included). Faults apply to bytes that arrive after `set()`.
 */
export interface Faults {
  /** Which way byte counts and faults apply: 'up' (client → server), 'down' (server → client), or 'both'. Default 'both'. */
  direction?: 'up' | 'down' | 'both'
  /** Every chunk waits this long before it is forwarded (order is kept). */
  latencyMs?: number
  /** Throughput limit of each faulty direction of each connection, in bytes per second. */
  bytesPerSecond?: number
  /** Once this many bytes have passed on a connection, it is cut. */
  cutAfterBytes?: number
  /** How a cut ends a connection: 'reset' (TCP RST, the default) or 'close' (FIN). */
  cutWith?: 'reset' | 'close'
  /** Once this many bytes have passed on a connection, later bytes are dropped and the connection stays open. */
  stallAfterBytes?: number
  /** New connections are accepted, then reset at once. */
  refuse?: boolean
  /** Each chunk forwarded has one random bit flipped with this probability (0 to 1). */
  flipProbability?: number
  /** The byte at this offset of a connection (counted as `cutAfterBytes`) has its low bit flipped. */
  flipAtByte?: number
  /** Only the next N connections accepted after `set()` are faulty; default: every connection. */
  connections?: number
}

export interface FaultProxyStats {
  /** Connections accepted so far. */
  connections: number
  /** Connections cut by `cutAfterBytes`, `refuse` or `cutAll()`. */
  cuts: number
  /** Bits flipped by `flipProbability`. */
  flips: number
  bytesUp: number
  bytesDown: number
}

interface Connection {
  index: number
  client: net.Socket
  server: net.Socket
  dead: boolean
  kill(how: 'reset' | 'close'): void
}

export class FaultProxy extends EventEmitter {
  readonly host = '127.0.0.1'
  readonly stats: FaultProxyStats = {connections: 0, cuts: 0, flips: 0, bytesUp: 0, bytesDown: 0}
  readonly #server: net.Server
  readonly #target: {host: string; port: number}
  readonly #open = new Set<Connection>()
  #faults: Faults = {}
  /** Connections with an index below this are faulty (when `connections` was given). */
  #faultyBelow = Infinity
  #faultyFrom = 0

  private constructor(target: {host: string; port: number}) {
    super()
    this.#target = target
    this.#server = net.createServer((client) => this.#accept(client))
  }

  /** Listens on 127.0.0.1:<free port> and forwards to `target`. */
  static async start(target: {host: string; port: number}, faults: Faults = {}): Promise<FaultProxy> {
    const proxy = new FaultProxy(target)
    proxy.set(faults)
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject)
      proxy.#server.listen(0, '127.0.0.1', () => resolve())
    })
    return proxy
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port
  }

  /** Replaces the faults. With `connections`, only that many connections from now on are faulty. */
  set(faults: Faults): void {
    this.#faults = {...faults}
    this.#faultyFrom = faults.connections === undefined ? 0 : this.stats.connections
    this.#faultyBelow = faults.connections === undefined ? Infinity : this.stats.connections + faults.connections
  }

  /** No faults any more (connections already cut stay cut). */
  clear(): void {
    this.set({})
  }

  /** Cuts every open connection now. */
  cutAll(how: 'reset' | 'close' = 'reset'): void {
    for (const connection of this.#open) {
      this.stats.cuts++
      connection.kill(how)
      this.emit('cut', connection.index)
    }
  }

  get openConnections(): number {
    return this.#open.size
  }

  async close(): Promise<void> {
    for (const connection of this.#open) connection.kill('reset')
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #isFaulty(connection: Connection): boolean {
    return connection.index >= this.#faultyFrom && connection.index < this.#faultyBelow
  }

  #accept(client: net.Socket): void {
    const index = this.stats.connections++
    client.setNoDelay(true)
    const server = net.connect(this.#target.port, this.#target.host)
    server.setNoDelay(true)
    const connection: Connection = {
      index,
      client,
      server,
      dead: false,
      kill: (how) => {
        if (connection.dead) return
        connection.dead = true
        for (const socket of [client, server]) {
          if (how === 'reset') socket.resetAndDestroy()
          else socket.end(() => socket.destroy())
        }
      },
    }
    this.#open.add(connection)
    const forget = () => {
      if (this.#open.delete(connection)) this.emit('closed', connection.index)
    }
    client.on('close', forget)
    server.on('close', forget)
    // A peer that goes away takes the other side with it.
    client.on('error', () => server.destroy())
    server.on('error', () => client.destroy())
    if (this.#faults.refuse && this.#isFaulty(connection)) {
      this.stats.cuts++
      connection.kill('reset')
      this.emit('cut', connection.index)
      return
    }
    this.#pipe(connection, client, server, 'up')
    this.#pipe(connection, server, client, 'down')
    this.emit('connection', connection.index)
  }

  /** Forwards one direction of a connection through the faults. */
  #pipe(connection: Connection, from: net.Socket, to: net.Socket, direction: 'up' | 'down'): void {
    let passed = 0
    /** When the previous chunk leaves: chunks keep their order, a throttled link its pace. */
    let lastDue = 0
    let queued = 0
    let cutting = false
    const HOLD = 1024 * 1024
    const queue: {due: number; data: Buffer; cut: boolean; cutWith: 'reset' | 'close'}[] = []
    let timer: NodeJS.Timeout | undefined
    /** Forwards the chunks whose time has come, in order; sleeps until the next one. */
    const pump = () => {
      if (timer) return
      while (queue.length > 0 && !connection.dead) {
        const head = queue[0]
        const wait = head.due - Date.now()
        if (wait > 0) {
          timer = setTimeout(() => {
            timer = undefined
            pump()
          }, wait)
          return
        }
        queue.shift()
        queued -= head.data.length
        if (head.data.length > 0 && !to.destroyed) to.write(head.data)
        if (head.cut) {
          this.stats.cuts++
          connection.kill(head.cutWith)
          this.emit('cut', connection.index)
          return
        }
      }
      if (from.isPaused() && queued < HOLD && !to.writableNeedDrain && !connection.dead) from.resume()
    }
    from.on('data', (chunk: Buffer) => {
      if (connection.dead || cutting) return
      const f = this.#faults
      const active = this.#isFaulty(connection) && (f.direction ?? 'both') !== (direction === 'up' ? 'down' : 'up')
      const start = passed
      passed += chunk.length
      this.stats[direction === 'up' ? 'bytesUp' : 'bytesDown'] += chunk.length
      let data = chunk
      if (active && f.stallAfterBytes !== undefined && passed > f.stallAfterBytes) {
        data = data.subarray(0, Math.max(0, f.stallAfterBytes - start))
      }
      if (active && f.cutAfterBytes !== undefined && passed >= f.cutAfterBytes) {
        data = data.subarray(0, Math.max(0, f.cutAfterBytes - start))
        cutting = true
      }
      if (active && f.flipProbability && data.length > 0 && Math.random() < f.flipProbability) {
        data = Buffer.from(data)
        const bit = Math.floor(Math.random() * data.length * 8)
        data[bit >> 3] ^= 1 << (bit & 7)
        this.stats.flips++
      }
      if (active && f.flipAtByte !== undefined && f.flipAtByte >= start && f.flipAtByte < start + data.length) {
        data = Buffer.from(data)
        data[f.flipAtByte - start] ^= 1
        this.stats.flips++
      }
      const now = Date.now()
      let due = now + (active ? (f.latencyMs ?? 0) : 0)
      if (active && f.bytesPerSecond) due = Math.max(due, Math.max(lastDue, now) + (data.length / f.bytesPerSecond) * 1000)
      due = Math.max(due, lastDue)
      lastDue = due
      queue.push({due, data, cut: cutting, cutWith: f.cutWith ?? 'reset'})
      queued += data.length
      pump()
      // Back-pressure: a slow link or a slow receiver slows the sender down.
      if (queued >= HOLD || to.writableNeedDrain) from.pause()
    })
    to.on('drain', () => {
      if (from.isPaused() && queued < HOLD && !connection.dead) from.resume()
    })
    from.on('end', () => setTimeout(() => !connection.dead && to.end(), Math.max(0, lastDue - Date.now())))
    from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, lastDue - Date.now())))
  }
}

import {createHash} from 'node:crypto'
import {createConnection, createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * One agent per task file. The lock is a listening Unix socket in Linux's abstract namespace:
 * the kernel removes it with the process, so a kill -9 leaves nothing behind and no pid file can
 * go stale. (Elsewhere, a socket file in the temp directory, removed when found dead.) The
 * socket is also how `agent stop` and `agent status` reach the daemon: one JSON line each way.
 */
export interface AgentHello {
  pid: number
  config: string
  started: number
}

export type ControlRequest = {cmd: 'hello'} | {cmd: 'stop'}

export function socketAddress(configPath: string): string {
  const id = createHash('sha256').update(configPath).digest('hex').slice(0, 32)
  return process.platform === 'linux' ? `\0plakar-agent-${id}` : join(tmpdir(), `plakar-agent-${id}.sock`)
}

export class AlreadyRunningError extends Error {
  constructor(readonly hello: AgentHello | undefined) {
    super('already running')
  }
}

/** Takes the lock: listens on the task file's socket, or throws AlreadyRunningError. */
export async function takeInstanceLock(configPath: string, hello: AgentHello, onStop: () => void): Promise<Server> {
  const address = socketAddress(configPath)
  const server = createServer((socket) => serve(socket, hello, onStop))
  try {
    await listen(server, address)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
    const other = await contact(configPath, {cmd: 'hello'}).catch(() => undefined)
    if (other || process.platform === 'linux') throw new AlreadyRunningError(other)
    // A socket file whose agent died: remove it and take its place.
    const {rmSync} = await import('node:fs')
    rmSync(address, {force: true})
    await listen(server, address)
  }
  server.unref()
  return server
}

function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(address, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function serve(socket: Socket, hello: AgentHello, onStop: () => void): void {
  socket.setEncoding('utf8')
  let buffer = ''
  socket.on('error', () => {})
  socket.on('data', (chunk: string) => {
    buffer += chunk
    const nl = buffer.indexOf('\n')
    if (nl < 0) return
    let request: ControlRequest
    try {
      request = JSON.parse(buffer.slice(0, nl)) as ControlRequest
    } catch {
      socket.destroy()
      return
    }
    buffer = ''
    socket.write(`${JSON.stringify(hello)}\n`)
    // "stop": the connection stays open until this process exits, which is what the caller waits for.
    if (request.cmd === 'stop') onStop()
    else socket.end()
  })
}

/**
 * Asks the agent of a task file: its hello, or undefined when none runs. With "stop",
 * `onExit` resolves when the agent has exited (its end of the connection closes).
 */
export function contact(configPath: string, request: ControlRequest): Promise<(AgentHello & {exited: Promise<void>}) | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketAddress(configPath))
    let buffer = ''
    let answered = false
    const exited = new Promise<void>((done) => socket.on('close', () => done()))
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`))
    socket.on('data', (chunk: string) => {
      buffer += chunk
      const nl = buffer.indexOf('\n')
      if (nl < 0 || answered) return
      answered = true
      resolve({...(JSON.parse(buffer.slice(0, nl)) as AgentHello), exited})
      if (request.cmd !== 'stop') socket.end()
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(undefined)
      else reject(error)
    })
    socket.on('close', () => {
      if (!answered) resolve(undefined)
    })
  })
}

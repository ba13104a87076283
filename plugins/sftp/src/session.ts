import type {Attributes, FileEntryWithStats, InputAttributes, SFTPWrapper, Stats} from 'ssh2'
import type SftpClient from 'ssh2-sftp-client'
import {normalize, SftpOpError, STATUS} from './errors.js'

/** What the server advertised in its SFTP version packet that we use. */
export interface Extensions {
  posixRename: boolean
  hardlink: boolean
  fsync: boolean
  lsetstat: boolean
}

/**
 * One SSH connection and its SFTP channel, with promise-returning primitives whose errors are
 * normalised (see {@link normalize}). Once the connection is lost every call fails at once with
 * a transient error: the connector then replaces the session.
 */
export class SftpSession {
  readonly client: SftpClient
  readonly sftp: SFTPWrapper
  readonly number: number
  readonly extensions: Extensions
  /** Largest READ / WRITE payload the server accepts in one request (limits@openssh.com). */
  readonly maxRead: number
  readonly maxWrite: number
  #lost: Error | undefined

  constructor(client: SftpClient, sftp: SFTPWrapper, number: number) {
    this.client = client
    this.sftp = sftp
    this.number = number
    // ssh2 keeps what the server advertised in private fields; read them defensively.
    const internal = sftp as unknown as {_extensions?: Record<string, string>; _maxReadLen?: number; _maxWriteLen?: number}
    const ext = internal._extensions ?? {}
    this.extensions = {
      posixRename: ext['posix-rename@openssh.com'] !== undefined,
      hardlink: ext['hardlink@openssh.com'] !== undefined,
      fsync: ext['fsync@openssh.com'] !== undefined,
      lsetstat: ext['lsetstat@openssh.com'] !== undefined,
    }
    this.maxRead = clamp(internal._maxReadLen, 32 * 1024, 255 * 1024)
    this.maxWrite = clamp(internal._maxWriteLen, 32 * 1024, 255 * 1024)
  }

  get lost(): boolean {
    return this.#lost !== undefined
  }

  markLost(reason: Error): void {
    this.#lost ??= reason
  }

  /** Drops the connection at once (no goodbye: it may be stalled). */
  destroy(reason = new Error('closed')): void {
    this.markLost(reason)
    try {
      ;(this.client as unknown as {client: {destroy(): void}}).client.destroy()
    } catch {
      // already gone
    }
  }

  /** Ends the connection politely, or destroys it if the server does not answer in time. */
  async end(timeoutMs = 2000): Promise<void> {
    if (this.#lost) return this.destroy()
    this.markLost(new Error('closed'))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.client.end().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs)
      }),
    ])
    clearTimeout(timer)
    this.destroy()
  }

  /** Calls an ssh2 SFTP method and normalises its outcome. */
  #call<T>(op: string, path: string | undefined, invoke: (cb: (err: unknown, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#lost) {
        reject(new SftpOpError(`${path === undefined ? op : `${op} ${path}`}: connection lost (${this.#lost.message})`, 'ESFTPLOST', true))
        return
      }
      try {
        invoke((err, value) => (err ? reject(normalize(err, op, path)) : resolve(value as T)))
      } catch (error) {
        reject(normalize(error, op, path))
      }
    })
  }

  open(path: string, flags: 'r' | 'r+' | 'w' | 'wx', attrs?: InputAttributes): Promise<Buffer> {
    return this.#call('open', path, (cb) => this.sftp.open(path, flags, attrs ?? {}, cb))
  }

  close(handle: Buffer): Promise<void> {
    return this.#call('close', undefined, (cb) => this.sftp.close(handle, cb))
  }

  /** Closes a handle without waiting; errors do not matter (the connection may be gone). */
  forget(handle: Buffer): void {
    if (this.#lost) return
    try {
      this.sftp.close(handle, () => {})
    } catch {
      // gone
    }
  }

  /** Reads up to `length` bytes at `position`: fewer at the end of the file, 0 past it. */
  read(handle: Buffer, buffer: Buffer, length: number, position: number): Promise<Buffer> {
    return this.#call<Buffer>('read', undefined, (cb) =>
      this.sftp.read(handle, buffer, 0, length, position, (err, bytesRead) => cb(err, buffer.subarray(0, bytesRead ?? 0))),
    )
  }

  write(handle: Buffer, data: Buffer, position: number): Promise<void> {
    return this.#call('write', undefined, (cb) => this.sftp.write(handle, data, 0, data.length, position, cb))
  }

  fstat(handle: Buffer): Promise<Stats> {
    return this.#call('fstat', undefined, (cb) => this.sftp.fstat(handle, cb))
  }

  fsetstat(handle: Buffer, attrs: InputAttributes): Promise<void> {
    return this.#call('fsetstat', undefined, (cb) => this.sftp.fsetstat(handle, attrs, cb))
  }

  fsync(handle: Buffer): Promise<void> {
    if (!this.extensions.fsync) return Promise.resolve()
    return this.#call('fsync', undefined, (cb) => this.sftp.ext_openssh_fsync(handle, cb))
  }

  stat(path: string): Promise<Stats> {
    return this.#call('stat', path, (cb) => this.sftp.stat(path, cb))
  }

  lstat(path: string): Promise<Stats> {
    return this.#call('lstat', path, (cb) => this.sftp.lstat(path, cb))
  }

  setstat(path: string, attrs: InputAttributes): Promise<void> {
    return this.#call('setstat', path, (cb) => this.sftp.setstat(path, attrs, cb))
  }

  /** lsetstat@openssh.com: attributes of a symlink itself. */
  lsetstat(path: string, attrs: InputAttributes): Promise<void> {
    return this.#call('lsetstat', path, (cb) =>
      (this.sftp as unknown as {ext_openssh_lsetstat(p: string, a: InputAttributes, cb: (err?: Error) => void): void}).ext_openssh_lsetstat(path, attrs, cb),
    )
  }

  opendir(path: string): Promise<Buffer> {
    return this.#call('opendir', path, (cb) => this.sftp.opendir(path, cb))
  }

  /** The next batch of a directory's entries ("." and ".." left out), or undefined at its end. */
  readdirBatch(handle: Buffer, path: string): Promise<FileEntryWithStats[] | undefined> {
    return new Promise((resolve, reject) => {
      if (this.#lost) {
        reject(new SftpOpError(`readdir ${path}: connection lost (${this.#lost.message})`, 'ESFTPLOST', true))
        return
      }
      try {
        this.sftp.readdir(handle, (err: unknown, list: FileEntryWithStats[]) => {
          if (err && (err as {code?: unknown}).code === STATUS.EOF) resolve(undefined)
          else if (err) reject(normalize(err, 'readdir', path))
          else resolve(list)
        })
      } catch (error) {
        reject(normalize(error, 'readdir', path))
      }
    })
  }

  mkdir(path: string, attrs?: InputAttributes): Promise<void> {
    return this.#call('mkdir', path, (cb) => this.sftp.mkdir(path, attrs ?? {}, cb))
  }

  rmdir(path: string): Promise<void> {
    return this.#call('rmdir', path, (cb) => this.sftp.rmdir(path, cb))
  }

  unlink(path: string): Promise<void> {
    return this.#call('unlink', path, (cb) => this.sftp.unlink(path, cb))
  }

  /** SFTP v3 rename: fails when `to` exists (OpenSSH). */
  rename(from: string, to: string): Promise<void> {
    return this.#call('rename', to, (cb) => this.sftp.rename(from, to, cb))
  }

  /** posix-rename@openssh.com: atomically replaces `to`. */
  posixRename(from: string, to: string): Promise<void> {
    return this.#call('rename', to, (cb) => this.sftp.ext_openssh_rename(from, to, cb))
  }

  symlink(target: string, path: string): Promise<void> {
    // ssh2 swaps the arguments itself for OpenSSH servers, whose order is reversed.
    return this.#call('symlink', path, (cb) => this.sftp.symlink(target, path, cb))
  }

  readlink(path: string): Promise<string> {
    return this.#call('readlink', path, (cb) => this.sftp.readlink(path, cb))
  }

  hardlink(existing: string, path: string): Promise<void> {
    return this.#call('link', path, (cb) => this.sftp.ext_openssh_hardlink(existing, path, cb))
  }

  realpath(path: string): Promise<string> {
    return this.#call('realpath', path, (cb) => this.sftp.realpath(path, cb))
  }
}

function clamp(value: number | undefined, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return min
  return Math.min(value, max)
}

export type {Attributes, Stats}

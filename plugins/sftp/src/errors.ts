import {isTransientNetworkError, markFatal, PlakarError} from '@plakar/sdk'

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7). */
export const STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const

/**
 * An error of one SFTP operation, normalised: `code` is ENOENT (no such file: isNotFound()
 * recognises it), EACCES, EFAILURE, EOPNOTSUPP, or ESFTPLOST when the connection went away;
 * `transient` says whether another attempt on a new connection may succeed.
 */
export class SftpOpError extends Error {
  readonly code: string
  readonly transient: boolean
  readonly status?: number
  constructor(message: string, code: string, transient: boolean, status?: number, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'SftpOpError'
    this.code = code
    this.transient = transient
    this.status = status
  }
}

/** Messages of ssh2 and ssh2-sftp-client that mean "the connection is gone". */
const LOST = /No response from server|Not connected|No SFTP connection|Unexpected (end|close) event|Channel (is not open|open failure)|Unable to start subsystem|Connection lost|socket hang up|write after end|This socket has been ended|Keepalive timeout|Timed out while waiting for handshake/i

export function isConnectionLost(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false
  const e = error as {code?: unknown; level?: unknown; message?: unknown; transient?: unknown}
  if (typeof e.transient === 'boolean') return e.transient
  if (isTransientNetworkError(error)) return true
  if (e.code === STATUS.NO_CONNECTION || e.code === STATUS.CONNECTION_LOST || e.code === 'ERR_NOT_CONNECTED') return true
  if (e.level === 'client-timeout' || e.level === 'client-socket') return true
  return typeof e.message === 'string' && LOST.test(e.message)
}

/** Turns what ssh2 reports for `op` on `path` into an {@link SftpOpError}. */
export function normalize(error: unknown, op: string, path?: string): SftpOpError {
  if (error instanceof SftpOpError) return error
  const e = (error ?? {}) as {code?: unknown; message?: string}
  const where = path === undefined ? op : `${op} ${path}`
  switch (e.code) {
    case STATUS.NO_SUCH_FILE:
      return new SftpOpError(`${where}: no such file or directory`, 'ENOENT', false, STATUS.NO_SUCH_FILE, {cause: error})
    case STATUS.PERMISSION_DENIED:
      return new SftpOpError(`${where}: permission denied`, 'EACCES', false, STATUS.PERMISSION_DENIED, {cause: error})
    case STATUS.OP_UNSUPPORTED:
      return new SftpOpError(`${where}: not supported by the server`, 'EOPNOTSUPP', false, STATUS.OP_UNSUPPORTED, {cause: error})
    case STATUS.FAILURE:
      return new SftpOpError(`${where}: the server reports a failure${e.message && e.message !== 'Failure' ? ` (${e.message})` : ''}`, 'EFAILURE', false, STATUS.FAILURE, {cause: error})
    case STATUS.EOF:
      return new SftpOpError(`${where}: unexpected end of file`, 'EEOF', false, STATUS.EOF, {cause: error})
  }
  if (isConnectionLost(error)) {
    return new SftpOpError(`${where}: connection lost (${oneLine(e.message ?? String(error))})`, 'ESFTPLOST', true, undefined, {cause: error})
  }
  return new SftpOpError(`${where}: ${oneLine(e.message ?? String(error))}`, typeof e.code === 'string' ? e.code : 'ESFTP', false, undefined, {cause: error})
}

export function oneLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? ''
}

/**
 * The error a user sees once every attempt failed: one line, naming the server, marked fatal as
 * every storage's give-up is (the server is gone for this run: the engine stops instead of
 * recording the same failure against each remaining file). A permanent error is returned as is.
 */
export function finalError(error: unknown, server: string, attempts: number): unknown {
  if (error instanceof SftpOpError && error.transient) {
    return markFatal(new PlakarError(`sftp ${server}: ${error.message}; gave up after ${attempts} attempts`, 1, {cause: error}))
  }
  return error
}

import {posix} from 'node:path'
import {UsageError} from '@plakar/sdk'

export interface SftpLocation {
  host: string
  port: number
  /** Whether the location wrote the port (else ~/.ssh/config's Port, then 22, applies). */
  portGiven?: boolean
  /** The user written in the location, if any. */
  user?: string
  /**
   * The remote path: absolute ("/srv/backups"), or relative to the login directory when the
   * location says "~" ("sftp://host/~/backups" → "backups"; "sftp://host/~" → ".").
   */
  path: string
}

/**
 * "sftp://[user@]host[:port]/path". As with curl and most SFTP clients, the path is absolute;
 * "/~/" starts it at the login directory. IPv6 hosts go in brackets ("sftp://[::1]:2222/x").
 * A password in the location is refused: it would show in `ps`, shell history and snapshots.
 */
export function parseSftpLocation(location: string): SftpLocation {
  const usage = (why: string) => new UsageError(`invalid sftp location "${redact(location)}": ${why} (expected sftp://[user@]host[:port]/path)`)
  if (!/^sftp:\/\//i.test(location)) throw usage('it must start with sftp://')
  let url: URL
  try {
    url = new URL(location)
  } catch {
    throw usage('it is not a valid URL')
  }
  if (url.password) throw usage('put the password in the "password" option, never in the location')
  if (url.search || url.hash) throw usage('it has a query or fragment')
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (!host) throw usage('the host is missing')
  const port = url.port ? Number(url.port) : 22
  let path: string
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    throw usage('the path has a malformed %-escape')
  }
  if (path.includes('\0')) throw usage('the path has a NUL byte')
  if (path === '' || path === '/') path = '/'
  else if (path === '/~' || path === '/~/') path = '.'
  else if (path.startsWith('/~/')) path = posix.normalize(path.slice(3)).replace(/\/+$/, '') || '.'
  else path = posix.normalize(path).replace(/(.)\/+$/, '$1')
  return {host, port, portGiven: !!url.port, user: url.username ? decodeURIComponent(url.username) : undefined, path}
}

/** The location for messages: "sftp://user@host:port/path" with any password hidden. */
export function redact(location: string): string {
  return location.replace(/^(sftp:\/\/[^/:@]*):[^@/]*@/i, '$1:***@')
}

/** How a host is named in known_hosts and in messages: "host", or "[host]:port" off port 22. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

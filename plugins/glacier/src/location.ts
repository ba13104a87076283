import {UsageError} from '@plakar/sdk'

/** A parsed `glacier://host[:port]/bucket[/prefix]` location. */
export interface GlacierLocation {
  host: string
  port?: number
  bucket: string
  /** Key prefix without leading or trailing '/', '' for the whole bucket. */
  prefix: string
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const FORM = 'glacier://host[:port]/bucket[/prefix]'

/**
 * Parses a location, with the rules of the s3 plugin (the same endpoint, bucket and key
 * prefix; only the scheme differs): the prefix is verbatim, credentials in the location are
 * refused because they would show in `ps` and in shell history.
 */
export function parseGlacierLocation(location: string): GlacierLocation {
  const m = /^glacier:\/\/([^/]*)(?:\/(.*))?$/i.exec(location)
  if (!m) throw new UsageError(`"${location}" is not a glacier location: write ${FORM}`)
  let authority = m[1]
  if (authority.includes('@')) {
    throw new UsageError(
      'credentials are not accepted in the location (they would show in process lists): ' +
        'use -o access_key=… -o secret_access_key=…, a named store, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    )
  }
  let port: number | undefined
  const portMatch = /^(.*):(\d+)$/.exec(authority)
  if (portMatch) {
    authority = portMatch[1]
    port = Number(portMatch[2])
    if (port < 1 || port > 65535) throw new UsageError(`invalid port ${port} in ${location}`)
  }
  const host = authority.replace(/^\[(.*)\]$/, '$1')
  if (!host) throw new UsageError(`no host in ${location}: write ${FORM}`)
  const path = (m[2] ?? '').split('/').filter((p) => p !== '')
  const bucket = path.shift()
  if (!bucket) throw new UsageError(`no bucket in ${location}: write ${FORM}`)
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new UsageError(`"${bucket}" is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`)
  }
  return {host, port, bucket, prefix: path.join('/')}
}

/** The location written back, for messages: glacier://host[:port]/bucket[/prefix]. */
export function formatGlacierLocation(loc: GlacierLocation): string {
  const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host
  return `glacier://${host}${loc.port ? `:${loc.port}` : ''}/${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`
}

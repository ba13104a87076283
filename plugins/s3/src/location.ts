import {UsageError} from '@plakar/sdk'

/** A parsed `s3://host[:port]/bucket[/prefix]` location. */
export interface S3Location {
  host: string
  port?: number
  bucket: string
  /** Key prefix without leading or trailing '/', '' for the whole bucket. */
  prefix: string
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * Parses a location. The prefix is taken verbatim (no percent-decoding: '%' and '+' are
 * ordinary key characters); leading, trailing and doubled slashes around it are dropped.
 * Credentials in the location are refused: they would show in `ps` and in shell history.
 */
export function parseS3Location(location: string): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(location)
  if (!m) throw new UsageError(`"${location}" is not an S3 location: write s3://host[:port]/bucket[/prefix]`)
  let authority = m[1]
  if (authority.includes('@')) {
    throw new UsageError(
      'S3 credentials are not accepted in the location (they would show in process lists): ' +
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
  if (!host) throw new UsageError(`no host in ${location}: write s3://host[:port]/bucket[/prefix]`)
  const path = (m[2] ?? '').split('/').filter((p) => p !== '')
  const bucket = path.shift()
  if (!bucket) throw new UsageError(`no bucket in ${location}: write s3://host[:port]/bucket[/prefix]`)
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new UsageError(`"${bucket}" is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`)
  }
  return {host, port, bucket, prefix: path.join('/')}
}

/** The location written back, for messages: s3://host[:port]/bucket[/prefix]. */
export function formatS3Location(loc: S3Location): string {
  const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host
  return `s3://${host}${loc.port ? `:${loc.port}` : ''}/${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`
}

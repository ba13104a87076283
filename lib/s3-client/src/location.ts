import {UsageError} from '@plakar/sdk'

/** A parsed `scheme://host[:port]/bucket[/prefix]` location (s3://, glacier://…). */
export interface BucketLocation {
  /** The scheme it was written with, for messages. */
  scheme: string
  host: string
  port?: number
  bucket: string
  /** Key prefix without leading or trailing '/', '' for the whole bucket. */
  prefix: string
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * Parses a location of `scheme`. The prefix is taken verbatim (no percent-decoding: '%' and
 * '+' are ordinary key characters); leading, trailing and doubled slashes around it are dropped.
 * Credentials in the location are refused: they would show in `ps` and in shell history.
 */
export function parseBucketLocation(location: string, scheme: string): BucketLocation {
  const form = `${scheme}://host[:port]/bucket[/prefix]`
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(?:\/(.*))?$/i.exec(location)
  if (!m || m[1].toLowerCase() !== scheme) throw new UsageError(`"${location}" is not a ${scheme}:// location: write ${form}`)
  let authority = m[2]
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
  if (!host) throw new UsageError(`no host in ${location}: write ${form}`)
  const path = (m[3] ?? '').split('/').filter((p) => p !== '')
  const bucket = path.shift()
  if (!bucket) throw new UsageError(`no bucket in ${location}: write ${form}`)
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new UsageError(`"${bucket}" is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`)
  }
  return {scheme, host, port, bucket, prefix: path.join('/')}
}

/** The location written back, for messages: scheme://host[:port]/bucket[/prefix]. */
export function formatBucketLocation(loc: BucketLocation): string {
  const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host
  return `${loc.scheme}://${host}${loc.port ? `:${loc.port}` : ''}/${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`
}

import type {ConnectorContext} from '@plakar/sdk'
import {hostPort, rgwConfig} from '../../../test/support/rgw.js'

/** The radosgw of the tests and the helpers every S3 connector's tests share. */
export * from '../../../test/support/rgw.js'

export function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return rgwConfig(extra)
}

export function glacierLocation(bucket: string, prefix = '', host = hostPort): string {
  return `glacier://${host}/${bucket}${prefix ? `/${prefix}` : ''}`
}

export function context(location: string, cfg: Record<string, unknown> = config()): ConnectorContext {
  const quiet = () => {}
  return {location, scheme: 'glacier', config: cfg, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: '/nonexistent-cache'}
}

import type {ConnectorContext} from '@plakar/sdk'
import {describeRgw, hostPort, rgwConfig} from '../../../test/support/rgw.js'

/** The radosgw of the tests and the helpers every S3 connector's tests share. */
export * from '../../../test/support/rgw.js'

export const describeS3 = describeRgw

/** Connector options for the test server. */
export function s3Config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return rgwConfig(extra)
}

export function s3Location(bucket: string, prefix = ''): string {
  return `s3://${hostPort}/${bucket}${prefix ? `/${prefix}` : ''}`
}

export function context(location: string, config: Record<string, unknown> = s3Config()): ConnectorContext {
  const quiet = () => {}
  return {location, scheme: 's3', config, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: '/nonexistent-cache'}
}

import type {BucketLocation} from './location.js'

/**
 * The connection options every S3 connector accepts (its schema declares them; ajv applies the
 * defaults). A connector's own options extend these.
 */
export interface ConnectionConfig {
  access_key?: string
  secret_access_key?: string
  session_token?: string
  profile?: string
  region?: string
  use_tls?: boolean
  path_style?: boolean
  timeout?: number
  connections?: number
  retries?: number
  create_bucket?: boolean
}

/** Everything needed to talk to one endpoint, secrets kept apart from what may be printed. */
export interface ConnectionSettings {
  /** http(s)://host[:port], for the SDK and for messages. */
  endpoint: string
  region: string
  pathStyle: boolean
  /** Undefined: the SDK's default provider chain (environment, profiles, instance roles). */
  credentials?: {accessKeyId: string; secretAccessKey: string; sessionToken?: string}
  profile?: string
  timeoutMs: number
  connections: number
  attempts: number
  createBucket: boolean
}

const AWS_HOST = /(^|\.)amazonaws\.com(\.cn)?$/i
const AWS_REGION_IN_HOST = /^(?:.*\.)?s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/i

export function connectionSettings(loc: BucketLocation, config: ConnectionConfig, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const tls = config.use_tls ?? true
  const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host
  const endpoint = `${tls ? 'https' : 'http'}://${host}${loc.port ? `:${loc.port}` : ''}`
  const region = config.region ?? AWS_REGION_IN_HOST.exec(loc.host)?.[1]?.toLowerCase() ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1'
  const settings: ConnectionSettings = {
    endpoint,
    region,
    // Virtual-hosted addressing needs DNS for bucket.host: only AWS is sure to have it.
    pathStyle: config.path_style ?? !AWS_HOST.test(loc.host),
    profile: config.profile,
    timeoutMs: (config.timeout ?? 60) * 1000,
    connections: config.connections ?? 16,
    attempts: (config.retries ?? 5) + 1,
    createBucket: config.create_bucket ?? true,
  }
  if (config.access_key && config.secret_access_key) {
    settings.credentials = {accessKeyId: config.access_key, secretAccessKey: config.secret_access_key}
    if (config.session_token) settings.credentials.sessionToken = config.session_token
  }
  return settings
}

import {UsageError} from '@plakar/sdk'
import type {GlacierLocation} from './location.js'

/** Storage classes whose objects must be restored before a GET succeeds. */
export const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE'])
/** Storage classes data packfiles may be written to. */
export const COLD_CLASSES = ['GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const
export type ColdClass = (typeof COLD_CLASSES)[number]

/** The connector configuration, as validated by schema/storage.json (defaults applied by ajv). */
export interface GlacierConfig {
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
  storage_class?: ColdClass
  hot_storage_class?: string
  lock_mode?: 'COMPLIANCE' | 'GOVERNANCE'
  lock_days?: number
  thaw_tier?: 'Expedited' | 'Standard' | 'Bulk'
  thaw_days?: number
  thaw_poll?: number
  thaw_poll_max?: number
  early_delete?: boolean
}

/** Everything needed to talk to one endpoint, secrets kept apart from what may be printed. */
export interface GlacierSettings {
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
  /** Class of data packfiles. */
  coldClass: ColdClass
  /** Class of everything else; undefined: the bucket's default (STANDARD). */
  hotClass?: string
  lockMode?: 'COMPLIANCE' | 'GOVERNANCE'
  lockDays: number
  thawTier: string
  thawDays: number
  pollInitialMs: number
  pollMaxMs: number
  /** Delete cold objects before their minimum storage duration (and pay for it). */
  earlyDelete: boolean
}

const AWS_HOST = /(^|\.)amazonaws\.com(\.cn)?$/i
const AWS_REGION_IN_HOST = /^(?:.*\.)?s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/i

export function settingsFor(loc: GlacierLocation, config: GlacierConfig, env: NodeJS.ProcessEnv = process.env): GlacierSettings {
  const tls = config.use_tls ?? true
  const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host
  const endpoint = `${tls ? 'https' : 'http'}://${host}${loc.port ? `:${loc.port}` : ''}`
  const region = config.region ?? AWS_REGION_IN_HOST.exec(loc.host)?.[1]?.toLowerCase() ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1'
  if (config.lock_days !== undefined && !config.lock_mode) {
    throw new UsageError('lock_days needs lock_mode=COMPLIANCE or lock_mode=GOVERNANCE')
  }
  const settings: GlacierSettings = {
    endpoint,
    region,
    // Virtual-hosted addressing needs DNS for bucket.host: only AWS is sure to have it.
    pathStyle: config.path_style ?? !AWS_HOST.test(loc.host),
    profile: config.profile,
    timeoutMs: (config.timeout ?? 60) * 1000,
    connections: config.connections ?? 16,
    attempts: (config.retries ?? 5) + 1,
    createBucket: config.create_bucket ?? true,
    coldClass: config.storage_class ?? 'GLACIER',
    hotClass: config.hot_storage_class,
    lockMode: config.lock_mode,
    lockDays: config.lock_mode ? (config.lock_days ?? 30) : 0,
    thawTier: config.thaw_tier ?? 'Standard',
    thawDays: config.thaw_days ?? 7,
    pollInitialMs: Math.round((config.thaw_poll ?? 30) * 1000),
    pollMaxMs: Math.round((config.thaw_poll_max ?? 900) * 1000),
    earlyDelete: config.early_delete ?? false,
  }
  if (settings.pollMaxMs < settings.pollInitialMs) settings.pollMaxMs = settings.pollInitialMs
  if (config.access_key && config.secret_access_key) {
    settings.credentials = {accessKeyId: config.access_key, secretAccessKey: config.secret_access_key}
    if (config.session_token) settings.credentials.sessionToken = config.session_token
  }
  return settings
}

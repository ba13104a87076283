import {UsageError} from '@plakar/sdk'
import {connectionSettings, type BucketLocation, type ConnectionConfig, type ConnectionSettings} from '@plakar/s3-client'

/** Storage classes whose objects must be restored before a GET succeeds. */
export const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE'])
/** Storage classes data packfiles may be written to. */
export const COLD_CLASSES = ['GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const
export type ColdClass = (typeof COLD_CLASSES)[number]

/** The connector configuration, as validated by schema/storage.json (defaults applied by ajv). */
export interface GlacierConfig extends ConnectionConfig {
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

export interface GlacierSettings extends ConnectionSettings {
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

export function settingsFor(loc: BucketLocation, config: GlacierConfig, env: NodeJS.ProcessEnv = process.env): GlacierSettings {
  if (config.lock_days !== undefined && !config.lock_mode) {
    throw new UsageError('lock_days needs lock_mode=COMPLIANCE or lock_mode=GOVERNANCE')
  }
  const settings: GlacierSettings = {
    ...connectionSettings(loc, config, env),
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
  return settings
}

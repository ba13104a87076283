import type {ThawSettings, ThawTier} from '@plakar/sdk'

/**
 * Retrieval prices of the archive classes: AWS S3 list prices for us-east-1 (USD), per GiB
 * restored and per 1000 RestoreObject requests, and the waits AWS documents. Other regions and
 * S3-compatible services charge differently: the estimate says where the table comes from, and
 * the table is documented in the plugin's README so a user can check it before confirming.
 * GLACIER_IR needs no restore (it is read directly, at a per-GiB retrieval fee charged on GET).
 */
export const PRICE_SOURCE = 'AWS S3 list prices, us-east-1 (plugins/glacier/README.md)'
export const CURRENCY = 'USD'

const TIERS: Record<string, ThawTier[]> = {
  GLACIER: [
    {name: 'Expedited', perGiB: 0.03, perThousandRequests: 10, typicalWait: '1-5 minutes'},
    {name: 'Standard', perGiB: 0.01, perThousandRequests: 0.05, typicalWait: '3-5 hours'},
    {name: 'Bulk', perGiB: 0, perThousandRequests: 0, typicalWait: '5-12 hours'},
  ],
  DEEP_ARCHIVE: [
    {name: 'Standard', perGiB: 0.02, perThousandRequests: 0.1, typicalWait: 'within 12 hours'},
    {name: 'Bulk', perGiB: 0.0025, perThousandRequests: 0.025, typicalWait: 'within 48 hours'},
  ],
}

export function tiersFor(storageClass?: string): ThawTier[] {
  return (TIERS[storageClass ?? 'GLACIER'] ?? []).map((t) => ({...t}))
}

/** Days an object of a class is charged for even when deleted earlier (AWS's minimum storage duration). */
export const MINIMUM_DAYS: Record<string, number> = {GLACIER_IR: 90, GLACIER: 90, DEEP_ARCHIVE: 180}

export function defaultThawSettings(s: {thawTier: string; thawDays: number; pollInitialMs: number; pollMaxMs: number}): ThawSettings {
  return {tier: s.thawTier, days: s.thawDays, pollInitialMs: s.pollInitialMs, pollMaxMs: s.pollMaxMs, currency: CURRENCY, priceSource: PRICE_SOURCE}
}

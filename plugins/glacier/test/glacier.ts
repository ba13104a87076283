import {randomBytes} from 'node:crypto'
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  S3Client,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3'
import type {ConnectorContext} from '@plakar/sdk'
import {describe} from 'vitest'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

/**
 * The S3 server of the tests: radosgw started by test/support/global-setup.ts (S3_ENDPOINT,
 * S3_ACCESS_KEY, S3_SECRET_KEY). Without it these tests fail, unless the run deliberately left
 * radosgw out (PLAKAR_TEST_SERVICES without "radosgw"): then they are reported as skipped.
 */
export const endpoint = process.env.S3_ENDPOINT ?? ''
const wanted = process.env.PLAKAR_TEST_SERVICES
const excluded = !endpoint && wanted !== undefined && wanted !== 'all' && !wanted.split(',').includes('radosgw')

export function describeRgw(title: string, body: () => void): void {
  describe.skipIf(excluded)(title, () => {
    if (!endpoint) throw new Error('S3_ENDPOINT is not set: radosgw did not start (see test/support/services/radosgw.ts)')
    body()
  })
}

export const accessKey = process.env.S3_ACCESS_KEY ?? ''
export const secretKey = process.env.S3_SECRET_KEY ?? ''
export const hostPort = endpoint.replace(/^https?:\/\//, '')

export function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {access_key: accessKey, secret_access_key: secretKey, use_tls: false, ...extra}
}

export function glacierLocation(bucket: string, prefix = '', host = hostPort): string {
  return `glacier://${host}/${bucket}${prefix ? `/${prefix}` : ''}`
}

export function context(location: string, cfg: Record<string, unknown> = config()): ConnectorContext {
  const quiet = () => {}
  return {location, scheme: 'glacier', config: cfg, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: '/nonexistent-cache'}
}

/** A plain SDK client, independent of the plugin, to prepare and inspect buckets. */
let raw: S3Client | undefined
export function rawClient(): S3Client {
  raw ??= new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: {accessKeyId: accessKey, secretAccessKey: secretKey},
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  return raw
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

export async function createBucket(name: string, objectLock = false): Promise<void> {
  await rawClient()
    .send(new CreateBucketCommand({Bucket: name, ...(objectLock ? {ObjectLockEnabledForBucket: true} : {})}))
    .catch((error) => {
      if (error.name !== 'BucketAlreadyOwnedByYou') throw error
    })
}

export function head(bucket: string, key: string): Promise<HeadObjectCommandOutput> {
  return rawClient().send(new HeadObjectCommand({Bucket: bucket, Key: key}))
}

/** Every version and delete marker under `prefix` (a versioned bucket keeps what a DELETE hides). */
export async function listVersions(bucket: string, prefix = ''): Promise<{key: string; versionId: string; marker: boolean}[]> {
  const out: {key: string; versionId: string; marker: boolean}[] = []
  let keyMarker: string | undefined
  let versionMarker: string | undefined
  for (;;) {
    const page = await rawClient().send(new ListObjectVersionsCommand({Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker}))
    for (const v of page.Versions ?? []) out.push({key: v.Key!, versionId: v.VersionId!, marker: false})
    for (const v of page.DeleteMarkers ?? []) out.push({key: v.Key!, versionId: v.VersionId!, marker: true})
    if (!page.IsTruncated) return out
    keyMarker = page.NextKeyMarker
    versionMarker = page.NextVersionIdMarker
  }
}

/** Deletes every object version under `prefix` (unlocked buckets only). */
export async function removePrefix(bucket: string, prefix = ''): Promise<void> {
  const all = await listVersions(bucket, prefix)
  for (let i = 0; i < all.length; i += 1000) {
    await rawClient().send(
      new DeleteObjectsCommand({Bucket: bucket, Delete: {Objects: all.slice(i, i + 1000).map((v) => ({Key: v.key, VersionId: v.versionId})), Quiet: true}}),
    )
  }
}

import {randomBytes} from 'node:crypto'
import type {Readable} from 'node:stream'
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3'
import {FaultProxy} from './fault-proxy.js'
import {describe} from 'vitest'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

/**
 * The S3 server of the tests, for every S3 connector (plugins/s3, plugins/glacier) and the
 * end-to-end tests: radosgw started by test/support/global-setup.ts, which exports S3_ENDPOINT,
 * S3_ACCESS_KEY and S3_SECRET_KEY. Without it these tests fail — unless the run deliberately
 * left radosgw out (PLAKAR_TEST_SERVICES without "radosgw"): then they are reported as skipped.
 */
export const endpoint = process.env.S3_ENDPOINT ?? ''
const wanted = process.env.PLAKAR_TEST_SERVICES
export const rgwExcluded = !endpoint && wanted !== undefined && wanted !== 'all' && !wanted.split(',').includes('radosgw')

export function describeRgw(title: string, body: () => void): void {
  describe.skipIf(rgwExcluded)(title, () => {
    if (!endpoint) throw new Error('S3_ENDPOINT is not set: radosgw did not start (see test/support/services/radosgw.ts)')
    body()
  })
}

export const accessKey = process.env.S3_ACCESS_KEY ?? ''
export const secretKey = process.env.S3_SECRET_KEY ?? ''
export const hostPort = endpoint.replace(/^https?:\/\//, '')

/** Connector options for the test server (every S3 connector takes these). */
export function rgwConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {access_key: accessKey, secret_access_key: secretKey, use_tls: false, ...extra}
}

/** A plain SDK client, independent of the plugins, to prepare and inspect buckets. */
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

/** Creates a bucket (with Object Lock when asked: it can only be turned on at creation). */
export async function createBucket(name: string, objectLock = false): Promise<void> {
  await rawClient()
    .send(new CreateBucketCommand({Bucket: name, ...(objectLock ? {ObjectLockEnabledForBucket: true} : {})}))
    .catch((error) => {
      if (error.name !== 'BucketAlreadyOwnedByYou') throw error
    })
}

export interface ListedObject {
  key: string
  size: number
  etag?: string
}

export async function listObjects(bucket: string, prefix = ''): Promise<ListedObject[]> {
  const out: ListedObject[] = []
  let token: string | undefined
  do {
    const page = await rawClient().send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix, ContinuationToken: token, EncodingType: 'url'}))
    for (const o of page.Contents ?? []) out.push({key: decodeURIComponent(o.Key!.replace(/\+/g, '%20')), size: o.Size ?? 0, etag: o.ETag})
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return out
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

/** Deletes every object version under `prefix` (on a bucket without Object Lock, or once retention ended). */
export async function removePrefix(bucket: string, prefix = ''): Promise<void> {
  const all = await listVersions(bucket, prefix)
  for (let i = 0; i < all.length; i += 1000) {
    await rawClient().send(
      new DeleteObjectsCommand({Bucket: bucket, Delete: {Objects: all.slice(i, i + 1000).map((v) => ({Key: v.key, VersionId: v.versionId})), Quiet: true}}),
    )
  }
}

export function head(bucket: string, key: string): Promise<HeadObjectCommandOutput> {
  return rawClient().send(new HeadObjectCommand({Bucket: bucket, Key: key}))
}

export async function putBytes(bucket: string, key: string, body: Uint8Array, extra: {ContentType?: string; Metadata?: Record<string, string>} = {}): Promise<void> {
  await rawClient().send(new PutObjectCommand({Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ...extra}))
}

export async function collectStream(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(Buffer.from(part))
  return Buffer.concat(parts)
}

export async function getObject(bucket: string, key: string): Promise<Buffer> {
  const r = await rawClient().send(new GetObjectCommand({Bucket: bucket, Key: key}))
  return collectStream(r.Body as Readable)
}

/** A fault proxy in front of the test radosgw (connect to 127.0.0.1:proxy.port instead). */
export function rgwProxy(): Promise<FaultProxy> {
  const [host, port] = hostPort.split(':')
  return FaultProxy.start({host: host === 'localhost' ? '127.0.0.1' : host!, port: Number(port)})
}

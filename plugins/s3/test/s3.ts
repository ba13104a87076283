import {randomBytes} from 'node:crypto'
import type {Readable} from 'node:stream'
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import type {ConnectorContext} from '@plakar/sdk'
import {describe} from 'vitest'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

/**
 * The S3 server of the tests: radosgw started by test/support/global-setup.ts, which exports
 * S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY. Without it these tests fail — unless the run
 * deliberately left radosgw out (PLAKAR_TEST_SERVICES without "radosgw"): then they are
 * reported as skipped.
 */
export const endpoint = process.env.S3_ENDPOINT ?? ''
const wanted = process.env.PLAKAR_TEST_SERVICES
export const s3Excluded = !endpoint && wanted !== undefined && wanted !== 'all' && !wanted.split(',').includes('radosgw')

export function describeS3(title: string, body: () => void): void {
  describe.skipIf(s3Excluded)(title, () => {
    if (!endpoint) throw new Error('S3_ENDPOINT is not set: radosgw did not start (see test/support/services/radosgw.ts)')
    body()
  })
}

export const accessKey = process.env.S3_ACCESS_KEY ?? ''
export const secretKey = process.env.S3_SECRET_KEY ?? ''
export const hostPort = endpoint.replace(/^https?:\/\//, '')

/** Connector options for the test server. */
export function s3Config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {access_key: accessKey, secret_access_key: secretKey, use_tls: false, ...extra}
}

export function s3Location(bucket: string, prefix = ''): string {
  return `s3://${hostPort}/${bucket}${prefix ? `/${prefix}` : ''}`
}

export function context(location: string, config: Record<string, unknown> = s3Config()): ConnectorContext {
  const quiet = () => {}
  return {location, scheme: 's3', config, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: '/nonexistent-cache'}
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

export async function createBucket(name: string): Promise<void> {
  await rawClient()
    .send(new CreateBucketCommand({Bucket: name}))
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

/** Deletes every object under `prefix`. */
export async function removePrefix(bucket: string, prefix = ''): Promise<void> {
  const keys = (await listObjects(bucket, prefix)).map((o) => ({Key: o.key}))
  for (let i = 0; i < keys.length; i += 1000) {
    await rawClient().send(new DeleteObjectsCommand({Bucket: bucket, Delete: {Objects: keys.slice(i, i + 1000), Quiet: true}}))
  }
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

/**
 * The glacier shim behaves as the AWS documentation says archived objects do (GetObject,
 * HeadObject and RestoreObject references; "Restoring an archived object" in the S3 User Guide),
 * against real radosgw behind it, with the stock AWS SDK as the client.
 */
import {once} from 'node:events'
import {GetObjectCommand, HeadObjectCommand, PutObjectCommand, RestoreObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, createBucket, describeRgw, hostPort, secretKey, uniqueName} from '../../plugins/glacier/test/glacier.js'
import {GlacierShim} from './glacier-shim.js'

describeRgw('glacier shim (archive semantics in front of radosgw)', () => {
  const bucket = uniqueName('shim')
  let shim: GlacierShim
  let client: S3Client
  let address: string
  const clientFor = (address: string, secret = secretKey) =>
    new S3Client({
      endpoint: `http://${address}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {accessKeyId: accessKey, secretAccessKey: secret},
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    })

  beforeAll(async () => {
    await createBucket(bucket)
    shim = new GlacierShim({upstream: hostPort, credentials: {accessKeyId: accessKey, secretAccessKey: secretKey}, delayMs: 'manual'})
    address = await shim.start()
    client = clientFor(address)
  })
  afterAll(async () => {
    client?.destroy()
    await shim?.close()
  })

  const put = (Key: string, StorageClass?: 'GLACIER' | 'DEEP_ARCHIVE') =>
    client.send(new PutObjectCommand({Bucket: bucket, Key, Body: Buffer.from(`bytes of ${Key}`), StorageClass}))
  const get = async (Key: string, Range?: string) => Buffer.from(await (await client.send(new GetObjectCommand({Bucket: bucket, Key, Range}))).Body!.transformToByteArray()).toString()
  const restore = (Key: string, Tier: 'Expedited' | 'Standard' | 'Bulk' = 'Standard', Days = 2) =>
    client.send(new RestoreObjectCommand({Bucket: bucket, Key, RestoreRequest: {Days, GlacierJobParameters: {Tier}}}))

  it('GET of an archived object answers 403 InvalidObjectState until a restore completes; HEAD reports x-amz-restore', async () => {
    await put('cold', 'GLACIER')
    await expect(get('cold')).rejects.toMatchObject({name: 'InvalidObjectState', $metadata: {httpStatusCode: 403}})
    await expect(get('cold', 'bytes=0-3')).rejects.toMatchObject({name: 'InvalidObjectState'})
    const h0 = await client.send(new HeadObjectCommand({Bucket: bucket, Key: 'cold'}))
    expect(h0.StorageClass).toBe('GLACIER')
    expect(h0.Restore).toBeUndefined()

    const first = await restore('cold')
    expect(first.$metadata.httpStatusCode).toBe(202)
    await expect(restore('cold')).rejects.toMatchObject({name: 'RestoreAlreadyInProgress', $metadata: {httpStatusCode: 409}})
    expect((await client.send(new HeadObjectCommand({Bucket: bucket, Key: 'cold'}))).Restore).toBe('ongoing-request="true"')
    await expect(get('cold')).rejects.toMatchObject({name: 'InvalidObjectState'})

    const restored = once(shim, 'restored')
    shim.complete()
    expect((await restored)[0]).toBe(`${bucket}/cold`)
    const h1 = await client.send(new HeadObjectCommand({Bucket: bucket, Key: 'cold'}))
    expect(h1.Restore).toMatch(/^ongoing-request="false", expiry-date="[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"$/)
    expect(await get('cold')).toBe('bytes of cold')
    expect(await get('cold', 'bytes=0-4')).toBe('bytes')
    // A restore of a restored object only changes its expiry: 200 OK.
    expect((await restore('cold', 'Standard', 5)).$metadata.httpStatusCode).toBe(200)
    expect(shim.stats.restoresStarted.get(`${bucket}/cold`)).toBe(1)
  })

  it('objects of other classes are read directly and cannot be restored', async () => {
    await put('hot')
    expect(await get('hot')).toBe('bytes of hot')
    expect((await client.send(new HeadObjectCommand({Bucket: bucket, Key: 'hot'}))).Restore).toBeUndefined()
    await expect(restore('hot')).rejects.toMatchObject({name: 'InvalidObjectState', $metadata: {httpStatusCode: 403}})
  })

  it('DEEP_ARCHIVE has no Expedited tier; a missing object is 404', async () => {
    await put('deep', 'DEEP_ARCHIVE')
    await expect(restore('deep', 'Expedited')).rejects.toMatchObject({$metadata: {httpStatusCode: 400}})
    expect((await restore('deep', 'Bulk')).$metadata.httpStatusCode).toBe(202)
    await expect(restore('missing')).rejects.toMatchObject({$metadata: {httpStatusCode: 404}})
    expect(shim.stats.restoresStarted.get(`${bucket}/deep`)).toBe(1)
  })

  it('a restore completes by itself after the configured delay', async () => {
    await put('timed', 'GLACIER')
    shim.delayMs = {Expedited: 10}
    try {
      const restored = once(shim, 'restored')
      await restore('timed', 'Expedited')
      await restored
      expect(await get('timed')).toBe('bytes of timed')
    } finally {
      shim.delayMs = 'manual'
    }
  })
})

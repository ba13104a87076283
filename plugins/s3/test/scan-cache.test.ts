import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {CopyObjectCommand} from '@aws-sdk/client-s3'
import {isScanError, type ImportRecord} from '@plakar/sdk'
import {afterAll, beforeAll, expect, it, vi} from 'vitest'
import createImporter, {type S3Importer} from '../src/importer.js'
import {context, createBucket, describeS3, putBytes, rawClient, s3Location, uniqueName} from './s3.js'

describeS3('s3 importer: the scan cache spares HEAD requests for unchanged objects', () => {
  const bucket = uniqueName('plakar-scancache')
  let cacheDir: string

  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'plakar-s3-cache-'))
    await createBucket(bucket)
    for (let i = 0; i < 30; i++) {
      await putBytes(bucket, `p/${i % 3}/o${i}`, Buffer.from(`object ${i}`), {ContentType: 'text/x-test', Metadata: {n: String(i)}})
    }
  })
  afterAll(() => rm(cacheDir, {recursive: true, force: true}))

  /** Scans with a fresh importer and counts its HEAD requests. */
  const scan = async () => {
    const importer = (await createImporter({...context(s3Location(bucket, 'p')), cacheDir})) as S3Importer
    let heads = 0
    const send = importer.session.wire.send.bind(importer.session.wire)
    vi.spyOn(importer.session.wire, 'send').mockImplementation((request) => {
      if (request.method === 'HEAD') heads++
      return send(request)
    })
    const records = new Map<string, ImportRecord>()
    for await (const item of importer.scan({signal: new AbortController().signal})) {
      if (isScanError(item)) throw new Error(`${item.path}: ${item.error}`)
      records.set(item.path, item)
    }
    await importer.close()
    return {heads, records}
  }

  it('HEADs every object once, then none while nothing changes, then only what changed', async () => {
    const first = await scan()
    expect(first.heads).toBe(30)
    const second = await scan()
    expect(second.heads).toBe(0)
    for (const [path, record] of first.records) expect(second.records.get(path)?.info, path).toEqual(record.info)

    // New metadata means a new version (a new LastModified): it must be seen.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    await rawClient().send(
      new CopyObjectCommand({Bucket: bucket, Key: 'p/1/o1', CopySource: `${bucket}/p/1/o1`, MetadataDirective: 'REPLACE', Metadata: {n: 'changed'}, ContentType: 'text/x-new'}),
    )
    await putBytes(bucket, 'p/2/new', Buffer.from('new'))
    const third = await scan()
    expect(third.heads).toBe(2)
    const changed = third.records.get(`/${bucket}/p/1/o1`)!.info
    expect(changed.metadata).toEqual({n: 'changed'})
    expect(changed.contentType).toBe('text/x-new')
    expect(third.records.get(`/${bucket}/p/0/o0`)!.info.metadata).toEqual({n: '0'})
  })
})

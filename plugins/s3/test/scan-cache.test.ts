import {mkdtemp, rm} from 'node:fs/promises'
import {createServer, request, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {CopyObjectCommand} from '@aws-sdk/client-s3'
import {isScanError, type ImportRecord} from '@plakar/sdk'
import {afterAll, beforeAll, expect, it, vi} from 'vitest'
import createImporter, {type S3Importer} from '../src/importer.js'
import {context, createBucket, describeS3, endpoint, head, hostPort, putBytes, rawClient, uniqueName} from './s3.js'

/**
 * An HTTP proxy in front of the test radosgw whose listings give LastModified at one-second
 * resolution, as AWS S3's do (radosgw's have milliseconds, which hide the race tested below).
 * Requests pass unchanged (their signature covers the Host header, forwarded as sent).
 */
async function secondResolutionProxy(): Promise<{hostPort: string; close: () => Promise<void>}> {
  const [host, port] = hostPort.split(':')
  const server: Server = createServer((incoming, outgoing) => {
    const forward = request({host, port: Number(port), method: incoming.method, path: incoming.url, headers: incoming.headers}, (answer) => {
      const listing = incoming.method === 'GET' && /[?&]list-type=2/.test(incoming.url ?? '')
      if (!listing) {
        outgoing.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(outgoing)
        return
      }
      const parts: Buffer[] = []
      answer.on('data', (part: Buffer) => parts.push(part))
      answer.on('end', () => {
        const body = Buffer.from(Buffer.concat(parts).toString().replace(/(<LastModified>[^<.]*)\.\d+Z/g, '$1.000Z'))
        const {'content-length': _, 'transfer-encoding': __, ...headers} = answer.headers
        outgoing.writeHead(answer.statusCode!, {...headers, 'content-length': body.length})
        outgoing.end(body)
      })
    })
    forward.on('error', () => outgoing.destroy())
    incoming.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    hostPort: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

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

  /** Between two looks at the server's clock. */
  const pause = () => new Promise((resolve) => setTimeout(resolve, 20))

  /** The server's clock (its Date header, one-second resolution), in ms. */
  const serverNow = async () => Date.parse((await fetch(endpoint)).headers.get('date') ?? '')

  /** Waits until the server's clock is in a later second than the object's LastModified. */
  const serverSecondAfter = async (key: string) => {
    const modified = Math.floor((await head(bucket, key)).LastModified!.getTime() / 1000)
    while (Math.floor((await serverNow()) / 1000) <= modified) await pause()
  }

  /** Scans with a fresh importer and counts its HEAD requests. */
  const scan = async (prefix = 'p', via = hostPort) => {
    const importer = (await createImporter({...context(`s3://${via}/${bucket}/${prefix}`), cacheDir})) as S3Importer
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
    // Objects written in the second of the scan are not remembered (the next test): wait it out.
    await serverSecondAfter('p/2/o29')
    const first = await scan()
    expect(first.heads).toBe(30)
    const second = await scan()
    expect(second.heads).toBe(0)
    for (const [path, record] of first.records) expect(second.records.get(path)?.info, path).toEqual(record.info)

    // New metadata means a new version, with a LastModified in a later second than the one
    // remembered (that one was remembered only because the server's clock had moved on).
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

  it('sees new metadata given to an object in the very second the last scan read it', async () => {
    // A version and its replacement in the same second look alike in a listing (same ETag, size
    // and LastModified at S3's one-second resolution). Tries until one attempt lands both in the
    // same second as the scan that read the first; every attempt must see the new metadata.
    const proxy = await secondResolutionProxy()
    let raced = 0
    try {
      for (let attempt = 0; attempt < 20 && raced === 0; attempt++) {
        const key = `race/${attempt}/o`
        // Start just after the server's clock ticks, so that the next steps fit in one second.
        const before = Math.floor((await serverNow()) / 1000)
        while (Math.floor((await serverNow()) / 1000) === before) await pause()
        await putBytes(bucket, key, Buffer.from('same bytes'), {Metadata: {v: '1'}})
        const first = await scan(`race/${attempt}`, proxy.hostPort)
        expect(first.records.get(`/${bucket}/${key}`)!.info.metadata).toEqual({v: '1'})
        const v1 = (await head(bucket, key)).LastModified!.getTime()
        await rawClient().send(new CopyObjectCommand({Bucket: bucket, Key: key, CopySource: `${bucket}/${key}`, MetadataDirective: 'REPLACE', Metadata: {v: '2'}}))
        const v2 = (await head(bucket, key)).LastModified!.getTime()
        const second = await scan(`race/${attempt}`, proxy.hostPort)
        expect(second.records.get(`/${bucket}/${key}`)!.info.metadata, `attempt ${attempt}`).toEqual({v: '2'})
        if (Math.floor(v1 / 1000) === Math.floor(v2 / 1000)) raced++
      }
    } finally {
      await proxy.close()
    }
    expect(raced, 'no replacement landed in the same second as the scan before it').toBe(1)
  })
})

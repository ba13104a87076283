import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {readAll} from '@plakar/sdk'
import {pseudoRandomBytes} from '@plakar/sdk/testing'
import {afterAll, beforeAll, expect, it, vi} from 'vitest'
import type {FaultProxy} from '../../../test/support/fault-proxy.js'
import {accessKey, createBucket, describeRgw, getObject, hostPort, putBytes, removePrefix, rgwConfig, rgwProxy, secretKey, uniqueName} from '../../../test/support/rgw.js'
import {connectionSettings, type ConnectionConfig} from '../src/connection.js'
import {isMissingObject} from '../src/errors.js'
import {listPage} from '../src/listing.js'
import {parseBucketLocation} from '../src/location.js'
import {S3Session} from '../src/session.js'
import {putObject} from '../src/upload.js'
import {objectHead} from '../src/wire.js'

const MiB = 1024 * 1024
const quiet = {debug: () => {}, info: () => {}, warn: () => {}}

function open(location: string, config: Record<string, unknown> = rgwConfig()): Promise<S3Session> {
  const loc = parseBucketLocation(location, 's3')
  return S3Session.open(loc, connectionSettings(loc, config as ConnectionConfig), quiet)
}

/** The wire's requests of one session, by method. */
function countRequests(session: S3Session): Record<string, number> {
  const counts: Record<string, number> = {}
  const send = session.wire.send.bind(session.wire)
  vi.spyOn(session.wire, 'send').mockImplementation((request) => {
    counts[request.method] = (counts[request.method] ?? 0) + 1
    return send(request)
  })
  return counts
}

// The frequent requests go out signed by our own code over node:http (wire.ts), not through the
// AWS SDK: radosgw checks every signature, so each request here is a real test of the signing.
describeRgw('s3 wire: the frequent requests without the AWS SDK', () => {
  const bucket = uniqueName('plakar-wire')
  let proxy: FaultProxy
  beforeAll(async () => {
    await createBucket(bucket)
    proxy = await rgwProxy()
  })
  afterAll(async () => {
    await proxy?.close()
    await removePrefix(bucket)
  })

  it('puts, heads, reads, lists page by page and deletes keys with any character, the SDK never loaded', async () => {
    const session = await open(`s3://${hostPort}/${bucket}`)
    const sdkClient = vi.spyOn(session, 'sdkClient')
    try {
      const keys = ['k/plain', 'k/a space', 'k/plus+and%percent', 'k/été/ü', 'k/q?x=1&y=(2)*!~', "k/quote'semi;colon", 'k/dir//double']
      for (const [i, key] of keys.entries()) {
        const body = Buffer.from(`object ${i}`)
        await putObject(session, key, Readable.from([body]), {size: body.length, what: key, contentType: 'text/x-test', metadata: {n: String(i)}})
      }
      for (const [i, key] of keys.entries()) {
        const head = objectHead((await session.send(`head ${key}`, {method: 'HEAD', key})).headers)
        expect(head).toMatchObject({ContentLength: Buffer.byteLength(`object ${i}`), ContentType: 'text/x-test', Metadata: {n: String(i)}})
        expect(head.LastModified).toBeInstanceOf(Date)
        const got = await session.send(`get ${key}`, {method: 'GET', key, headers: {range: 'bytes=2-5'}})
        expect((await readAll(got.body)).toString()).toBe(`object ${i}`.slice(2, 6))
        // The SDK (another client) sees the same keys.
        expect((await getObject(bucket, key)).toString()).toBe(`object ${i}`)
      }
      const listed: string[] = []
      let token: string | undefined
      let pages = 0
      do {
        const page = await listPage(session, 'listing', {prefix: 'k/', token, maxKeys: 2})
        listed.push(...page.objects.map((o) => o.key))
        token = page.next
        pages++
      } while (token)
      expect(pages).toBe(Math.ceil(keys.length / 2))
      expect(listed.sort()).toEqual([...keys].sort())
      await session.send('delete', {method: 'DELETE', key: 'k/a space'})
      const missing = await session.send('head', {method: 'HEAD', key: 'k/a space'}, {passthrough: isMissingObject}).catch((e: unknown) => e)
      expect(isMissingObject(missing)).toBe(true)
      const noSuchKey = await session.send('get', {method: 'GET', key: 'k/a space'}, {passthrough: isMissingObject}).catch((e: unknown) => e)
      expect(noSuchKey).toMatchObject({name: 'NoSuchKey', $metadata: {httpStatusCode: 404}})
      expect(sdkClient).not.toHaveBeenCalled()
    } finally {
      session.close()
    }
  })

  it('a packfile-sized object is one PUT; a bit flipped on the way is refused by the server and the body sent again', async () => {
    const session = await open(`s3://127.0.0.1:${proxy.port}/${bucket}`)
    const counts = countRequests(session)
    try {
      const data = pseudoRandomBytes('wire-put', 0, 20 * MiB)
      proxy.set({flipAtByte: 2 * MiB, direction: 'up', connections: 1})
      await putObject(session, 'p/packfile', Readable.from([data.subarray(0, 7 * MiB), data.subarray(7 * MiB)]), {size: data.length, what: 'packfile'})
      expect(proxy.stats.flips).toBe(1)
      // One attempt refused (XAmzContentSHA256Mismatch: the signed SHA-256 did not match), one stored.
      expect(counts).toEqual({PUT: 2})
      expect(Buffer.compare(await getObject(bucket, 'p/packfile'), data)).toBe(0)
    } finally {
      proxy.clear()
      session.close()
    }
  })

  it('a stream longer or shorter than its declared size stores nothing', async () => {
    const session = await open(`s3://${hostPort}/${bucket}`)
    try {
      for (const [declared, key] of [
        [10, 's/longer'],
        [30, 's/shorter'],
      ] as const) {
        const error = await putObject(session, key, Readable.from([Buffer.alloc(20)]), {size: declared, what: key}).catch((e: unknown) => e as Error)
        expect(error?.message).toMatch(new RegExp(`expected ${declared} bytes, the stream gave`))
      }
      expect((await listPage(session, 'listing', {prefix: 's/'})).objects).toEqual([])
    } finally {
      session.close()
    }
  })

  it('refused credentials end in one line with exit code 77, the secret never in it', async () => {
    const session = await open(`s3://${hostPort}/${bucket}`, rgwConfig({secret_access_key: 'not-the-secret-at-all', retries: 0}))
    try {
      const error = (await session.send('reading k/plain', {method: 'GET', key: 'k/plain'}).catch((e: unknown) => e)) as Error & {plakarExitCode?: number}
      expect(error.plakarExitCode).toBe(77)
      expect(error.message).toMatch(/refused the credentials while reading k\/plain \(SignatureDoesNotMatch\)/)
      expect(error.message).not.toContain('not-the-secret-at-all')
      expect(error.message).not.toContain('\n')
    } finally {
      session.close()
    }
  })

  it('credentials from a profile come through the SDK provider chain, and sign wire requests', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plakar-wire-profile-'))
    const saved = {file: process.env.AWS_SHARED_CREDENTIALS_FILE, config: process.env.AWS_CONFIG_FILE}
    try {
      await writeFile(join(dir, 'credentials'), `[wire-test]\naws_access_key_id = ${accessKey}\naws_secret_access_key = ${secretKey}\n`)
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials')
      process.env.AWS_CONFIG_FILE = join(dir, 'config')
      await putBytes(bucket, 'profile/object', Buffer.from('through a profile'))
      const session = await open(`s3://${hostPort}/${bucket}`, {use_tls: false, profile: 'wire-test'})
      try {
        const got = await session.send('get', {method: 'GET', key: 'profile/object'})
        expect((await readAll(got.body)).toString()).toBe('through a profile')
      } finally {
        session.close()
      }
    } finally {
      for (const [name, value] of [
        ['AWS_SHARED_CREDENTIALS_FILE', saved.file],
        ['AWS_CONFIG_FILE', saved.config],
      ] as const) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      await rm(dir, {recursive: true, force: true})
    }
  })
})

/**
 * End to end with the real CLI against radosgw: a bucket of 2,000+ objects (nested prefixes,
 * empty objects, a 64 MiB one, odd keys, content types, user metadata, a folder marker) backed
 * up into a repository — local, then on S3 itself — restores bit-exact into another bucket and
 * into a local directory, and a second backup of the unchanged bucket reads and uploads
 * (almost) nothing. Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the SDK's
 * default chain), connection settings from `-o`.
 */
import {createHash, randomBytes} from 'node:crypto'
import {readdir, readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {GetObjectCommand, HeadObjectCommand} from '@aws-sdk/client-s3'
import {afterAll, beforeAll, expect, it as itRun} from 'vitest'
import {
  accessKey,
  createBucket,
  describeS3,
  hostPort,
  listObjects,
  putBytes,
  rawClient,
  removePrefix,
  secretKey,
  uniqueName,
} from '../../plugins/s3/test/s3.js'
import {Plakar} from '../support/cli.js'
import {setup, type BackupJson} from './helpers.js'

const MiB = 1024 * 1024
const itSkip = itRun.skip
const TLS = ['-o', 'use_tls=false']

interface SourceObject {
  key: string
  body: Buffer
  contentType?: string
  metadata?: Record<string, string>
}

/** The source bucket's content: deterministic except for the random bytes. */
function sourceObjects(): SourceObject[] {
  const objects: SourceObject[] = []
  const types = ['text/plain', 'application/json', 'image/png', undefined]
  for (let i = 0; i < 2000; i++) {
    const size = i % 50 === 0 ? 0 : (i * 7919) % 6000
    objects.push({
      key: `tree/d${i % 7}/e${i % 11}/f${i % 3}/obj-${String(i).padStart(4, '0')}.dat`,
      body: randomBytes(size),
      contentType: types[i % 4],
      metadata: i % 10 === 0 ? {owner: `user-${i}`, 'x-tag': 'nightly build'} : undefined,
    })
  }
  const odd = [
    'odd/with space.txt',
    'odd/  leading spaces',
    'odd/ünïcödé/日本語-🎉.txt',
    'odd/café'.normalize('NFD'),
    'odd/hash#tag.txt',
    'odd/percent%20and%.txt',
    'odd/plus+sign+.txt',
    'odd/semi;colon,comma=eq&amp@at',
    'odd/quote\'s "double"',
    'odd/question?mark*star[1]',
    'odd/tab\there',
    'odd/new\nline',
    'odd/back\\slash',
    'odd/trailing.dot.',
  ]
  for (const key of odd) objects.push({key, body: Buffer.from(`content of ${key}\n`), contentType: 'text/plain; charset=utf-8'})
  for (let i = 0; i < 5; i++) objects.push({key: `empties/empty-${i}`, body: Buffer.alloc(0)})
  objects.push({key: 'meta/encoded', body: Buffer.from('x'), metadata: {title: '=?UTF-8?B?w6l0w6kg4pyT?=', plain: 'a b c'}})
  objects.push({key: 'markers/empty-folder/', body: Buffer.alloc(0), metadata: {kind: 'folder'}})
  objects.push({key: 'big/blob-64MiB.bin', body: randomBytes(64 * MiB), contentType: 'application/octet-stream'})
  return objects
}

const sortedJson = (o: Record<string, string>) => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)))
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex')

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({length: limit}, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

interface ObjectView {
  /** sha256 of the content for multipart objects; the MD5 ETag the server computed otherwise. */
  digest: string
  size: number
  contentType?: string
  metadata: Record<string, string>
}

/**
 * Every object under `prefix`, with a digest of its content, its content type and user metadata.
 * An object stored in one PUT has the MD5 of its bytes as ETag, computed by the server: only
 * multipart objects (ETag "…-N") are downloaded and hashed.
 */
async function bucketView(bucket: string, prefix = ''): Promise<Map<string, ObjectView>> {
  const out = new Map<string, ObjectView>()
  const listed = await listObjects(bucket, prefix)
  await mapLimit(listed, 16, async (o) => {
    const head = await rawClient().send(new HeadObjectCommand({Bucket: bucket, Key: o.key}))
    let digest = `md5:${(o.etag ?? '').replace(/"/g, '')}`
    if (!/^md5:[0-9a-f]{32}$/.test(digest)) {
      const hash = createHash('sha256')
      const r = await rawClient().send(new GetObjectCommand({Bucket: bucket, Key: o.key}))
      for await (const chunk of r.Body as Readable) hash.update(chunk as Buffer)
      digest = `sha256:${hash.digest('hex')}`
    }
    out.set(o.key.slice(prefix.length), {digest, size: o.size, contentType: head.ContentType, metadata: head.Metadata ?? {}})
  })
  return out
}

/** Every regular file under `dir`, by '/'-path relative to it, with its content hash. */
async function dirView(dir: string): Promise<Map<string, {sha256: string; size: number}>> {
  const out = new Map<string, {sha256: string; size: number}>()
  const walk = async (rel: string) => {
    for (const entry of await readdir(join(dir, rel), {withFileTypes: true})) {
      const path = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) await walk(path)
      else {
        const data = await readFile(join(dir, path))
        out.set(path, {sha256: sha(data), size: data.length})
      }
    }
  }
  await walk('')
  return out
}

describeS3('S3 bucket → repository → bucket and directory, bit-exact, through the CLI (radosgw)', () => {
  const env = setup('plakar-e2e-s3-')
  const s3env = {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_REGION: 'us-east-1'}
  const plakar = new Plakar(env.s.dir, {NODE_ENV: undefined as unknown as string, SSH_AUTH_SOCK: undefined as unknown as string, ...s3env})
  const source = uniqueName('plakar-e2e-src')
  const sourceLocation = `s3://${hostPort}/${source}`
  let objects: SourceObject[]
  let expected: Map<string, ObjectView>
  const contentDigest = new Map<string, string>()

  beforeAll(async () => {
    await createBucket(source)
    objects = sourceObjects()
    await mapLimit(objects, 24, (o) =>
      putBytes(source, o.key, o.body, {...(o.contentType ? {ContentType: o.contentType} : {}), ...(o.metadata ? {Metadata: o.metadata} : {})}),
    )
    expected = await bucketView(source)
    expect(expected.size).toBe(objects.length)
    // Both digests of what was written: a restored multipart object is compared by sha256.
    for (const o of objects) {
      expect(expected.get(o.key)?.digest, o.key).toMatch(new RegExp(`^(md5:${md5(o.body)}|sha256:${sha(o.body)})$`))
      contentDigest.set(o.key, `sha256:${sha(o.body)}`)
    }
  }, 300_000)
  afterAll(() => env.s.cleanup())

  const backupJson = async (at: string[]): Promise<BackupJson> =>
    JSON.parse(String((await plakar.ok(['at', ...at, 'backup', '--json', sourceLocation, ...TLS])).stdout)) as BackupJson
  const readBytes = async (at: string[], id: string) =>
    (JSON.parse(String((await plakar.ok(['at', ...at, 'info', '--json', id])).stdout)) as {stats: {readBytes: number; addedBytes: number}}).stats

  /** Restores into a fresh bucket prefix and compares keys, bytes, content types and metadata. */
  const expectBucketRestore = async (at: string[], id: string) => {
    const target = uniqueName('plakar-e2e-dst')
    await plakar.ok(['at', ...at, 'restore', '--to', `s3://${hostPort}/${target}/copy`, ...TLS, id])
    const restored = await bucketView(target, 'copy/')
    expect([...restored.keys()].sort()).toEqual([...expected.keys()].sort())
    const differences: string[] = []
    for (const [key, want] of expected) {
      const got = restored.get(key)!
      if (got.size !== want.size) differences.push(`${JSON.stringify(key)}: size ${got.size} != ${want.size}`)
      else if (got.digest !== want.digest && got.digest !== contentDigest.get(key)) differences.push(`${JSON.stringify(key)}: content`)
      if (got.contentType !== want.contentType) differences.push(`${JSON.stringify(key)}: content type ${got.contentType} != ${want.contentType}`)
      if (sortedJson(got.metadata) !== sortedJson(want.metadata)) {
        differences.push(`${JSON.stringify(key)}: metadata ${JSON.stringify(got.metadata)} != ${JSON.stringify(want.metadata)}`)
      }
    }
    expect(differences).toEqual([])
    await removePrefix(target)
  }

  /** Restores into a fresh directory and compares every file's bytes with its object. */
  const expectDirectoryRestore = async (at: string[], id: string) => {
    const out = join(env.s.dir, `restore-${randomBytes(4).toString('hex')}`)
    await plakar.ok(['at', ...at, 'restore', '--to', out, id])
    const files = await dirView(out)
    const wantFiles = objects.filter((o) => !o.key.endsWith('/'))
    expect([...files.keys()].sort()).toEqual(wantFiles.map((o) => o.key).sort())
    for (const o of wantFiles) expect(files.get(o.key), o.key).toEqual({sha256: sha(o.body), size: o.body.length})
    // The folder marker came back as an (empty) directory.
    expect((await stat(join(out, 'markers/empty-folder'))).isDirectory()).toBe(true)
  }

  const scenario = (title: string, repository: () => Promise<string[]>, skip = false) => {
    let at: string[]
    let first: string
    const it = skip ? itSkip : itRun
    it(`${title}: backup of the bucket`, async () => {
      at = await repository()
      await plakar.ok(['at', ...at, 'create'])
      const result = await backupJson(at)
      expect(result.errors).toBe(0)
      expect(result.files).toBe(objects.filter((o) => !o.key.endsWith('/')).length)
      first = result.id
      const stats = await readBytes(at, first)
      expect(stats.readBytes).toBe(objects.reduce((n, o) => n + o.body.length, 0))
    })
    it(`${title}: restores bit-exact into another bucket (keys, bytes, content types, metadata)`, async () => {
      await expectBucketRestore(at, first)
    })
    it(`${title}: restores bit-exact into a local directory`, async () => {
      await expectDirectoryRestore(at, first)
    })
    it(`${title}: a second backup of the unchanged bucket reads and uploads (almost) nothing`, async () => {
      const again = await backupJson(at)
      expect(again.files).toBe(objects.filter((o) => !o.key.endsWith('/')).length)
      const stats = await readBytes(at, again.id)
      expect(stats.readBytes).toBe(0)
      // Only the new snapshot's header and the few tree nodes that name it.
      expect(stats.addedBytes).toBeLessThan(256 * 1024)
      await plakar.ok(['at', ...at, 'check'])
    })
  }

  scenario('repository in a local directory', async () => [join(env.s.dir, 'repo')])
  scenario('repository on S3', async () => {
    const bucket = uniqueName('plakar-e2e-repo')
    return [`s3://${hostPort}/${bucket}/backups/main`, ...TLS]
  })
  // The headline job: an S3 bucket into a repository on an SFTP server (sshd test service).
  const sftp = process.env.SFTP_PORT
    ? {port: process.env.SFTP_PORT, user: process.env.SFTP_USER ?? 'root', root: process.env.SFTP_ROOT!, key: process.env.SFTP_KEY!, knownHosts: process.env.SFTP_KNOWN_HOSTS!}
    : undefined
  const sshdExcluded = !sftp && process.env.PLAKAR_TEST_SERVICES !== undefined && process.env.PLAKAR_TEST_SERVICES !== 'all' && !process.env.PLAKAR_TEST_SERVICES.split(',').includes('sshd')
  scenario(
    'repository on sftp://',
    async () => {
      if (!sftp) throw new Error('SFTP_PORT is not set: sshd did not start (see test/support/services/sshd.ts)')
      return [`sftp://${sftp.user}@127.0.0.1:${sftp.port}${sftp.root}/s3-e2e-${randomBytes(4).toString('hex')}`, '-o', `identity=${sftp.key}`, '-o', `known_hosts=${sftp.knownHosts}`]
    },
    sshdExcluded,
  )
})

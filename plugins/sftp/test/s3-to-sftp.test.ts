/**
 * The headline job, end to end with the real CLI: an S3 bucket (radosgw) backed up into a
 * repository on an SFTP server (sshd), restored bit-exact into another bucket and into a local
 * directory; a second backup of the unchanged bucket adds (almost) nothing.
 */
import {createHash, randomBytes} from 'node:crypto'
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, createBucket, describeS3, getObject, hostPort, listObjects, putBytes, removePrefix, secretKey, uniqueName} from '../../s3/test/s3.js'
import {Plakar, scratch} from '../../../test/support/cli.js'
import {sshdEnv} from './env.js'

const MiB = 1024 * 1024
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

describeS3('S3 bucket → repository on sftp:// → bucket and directory, through the CLI', () => {
  const env = sshdEnv()
  const s = scratch('plakar-e2e-s3-sftp-')
  const plakar = new Plakar(s.dir, {
    NODE_ENV: undefined as unknown as string,
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_REGION: 'us-east-1',
  })
  const repo = `sftp://${env.user}@127.0.0.1:${env.port}${env.root}/s3-repo-${randomBytes(4).toString('hex')}`
  const at = ['at', repo, '-o', `identity=${env.key}`, '-o', `known_hosts=${env.knownHosts}`]
  const TLS = ['-o', 'use_tls=false']
  const bucket = uniqueName('plakar-sftp-src')
  const objects = new Map<string, Buffer>()

  const ok = async (args: string[]) => {
    const r = await plakar.run(args)
    if (r.exitCode !== 0) throw new Error(`plakar ${args.join(' ')} exited ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
    return r
  }

  beforeAll(async () => {
    await createBucket(bucket)
    for (let i = 0; i < 300; i++) objects.set(`tree/p${i % 5}/q${i % 7}/obj-${i}.dat`, randomBytes(i % 25 === 0 ? 0 : (i * 7919) % 40_000))
    for (const key of ['odd/with space.txt', 'odd/ünïcödé/日本語.txt', 'odd/hash#tag', 'odd/per%cent+plus']) objects.set(key, Buffer.from(`content of ${key}`))
    objects.set('big/blob.bin', randomBytes(20 * MiB))
    const entries = [...objects]
    let next = 0
    await Promise.all(Array.from({length: 16}, async () => {
      while (next < entries.length) {
        const [key, body] = entries[next++]
        await putBytes(bucket, key, body)
      }
    }))
  }, 300_000)
  afterAll(async () => {
    await removePrefix(bucket).catch(() => {})
    s.cleanup()
  })

  let snapshot: string

  it('backs up the bucket into the sftp repository and restores it into another bucket, bit-exact', async () => {
    await ok([...at, 'create'])
    const b = JSON.parse(String((await ok([...at, 'backup', '--json', `s3://${hostPort}/${bucket}`, ...TLS])).stdout)) as {id: string; errors: number}
    expect(b.errors).toBe(0)
    snapshot = b.id
    const target = uniqueName('plakar-sftp-dst')
    await ok([...at, 'restore', '--to', `s3://${hostPort}/${target}/copy`, ...TLS, snapshot])
    const listed = await listObjects(target, 'copy/')
    expect(listed.map((o) => o.key.slice('copy/'.length)).sort()).toEqual([...objects.keys()].sort())
    for (const o of listed) {
      const key = o.key.slice('copy/'.length)
      const want = objects.get(key)!
      expect(o.size, key).toBe(want.length)
      // A single-PUT object's ETag is the MD5 of its bytes; a multipart one is read back.
      const etag = (o.etag ?? '').replace(/"/g, '')
      if (/^[0-9a-f]{32}$/.test(etag)) expect(etag, key).toBe(createHash('md5').update(want).digest('hex'))
      else expect(sha(await getObject(target, o.key)), key).toBe(sha(want))
    }
    await removePrefix(target)
    await ok([...at, 'check', snapshot])
  })

  it('restores the bucket into a local directory, bit-exact', async () => {
    const out = join(s.dir, 'restored')
    await ok([...at, 'restore', '--to', out, snapshot])
    const found = new Map<string, string>()
    const walk = async (rel: string): Promise<void> => {
      for (const e of await readdir(join(out, rel), {withFileTypes: true})) {
        const path = rel ? `${rel}/${e.name}` : e.name
        if (e.isDirectory()) await walk(path)
        else found.set(path, sha(await readFile(join(out, path))))
      }
    }
    await walk('')
    expect([...found.keys()].sort()).toEqual([...objects.keys()].sort())
    for (const [key, body] of objects) expect(found.get(key), key).toBe(sha(body))
  })

  it('a second backup of the unchanged bucket adds almost nothing', async () => {
    const b = JSON.parse(String((await ok([...at, 'backup', '--json', `s3://${hostPort}/${bucket}`, ...TLS])).stdout)) as {addedBytes: number}
    expect(b.addedBytes).toBeLessThan(256 * 1024)
  })
})

/**
 * Network faults between plakar and radosgw, through test/support/fault-proxy.ts: connections
 * cut mid-transfer, stalled connections, latency, and a network that stays down. A backup (S3
 * bucket → repository on S3, both through the proxy) either finishes after retries or fails
 * with one line, and `check` passes afterwards in both cases; restores under faults are exact.
 */
import {createHash, randomBytes} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, createBucket, describeS3, endpoint, getObject, listObjects, putBytes, secretKey, uniqueName} from '../../plugins/s3/test/s3.js'
import {Plakar} from '../support/cli.js'
import {FaultProxy} from '../support/fault-proxy.js'
import {expectOneLineError, setup} from './helpers.js'

const KiB = 1024
const MiB = 1024 * KiB
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

describeS3('S3 under network faults (fault proxy in front of radosgw)', () => {
  const env = setup('plakar-e2e-s3faults-')
  const plakar = new Plakar(env.s.dir, {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, NODE_ENV: undefined as unknown as string})
  const source = uniqueName('plakar-faults-src')
  const repoBucket = uniqueName('plakar-faults-repo')
  const objects = new Map<string, Buffer>()
  let proxy: FaultProxy
  let via: string
  /** Short idle timeout so that stalls are noticed quickly; the default number of retries. */
  const OPTS = ['-o', 'use_tls=false', '-o', 'timeout=3']
  let repo: string[]

  beforeAll(async () => {
    const target = new URL(endpoint)
    proxy = await FaultProxy.start({host: target.hostname, port: Number(target.port)})
    via = `127.0.0.1:${proxy.port}`
    repo = [`s3://${via}/${repoBucket}/repo`, ...OPTS]
    await createBucket(source)
    for (let i = 0; i < 40; i++) objects.set(`small/${i % 4}/file-${i}.bin`, randomBytes(1 + ((i * 48_271) % (256 * KiB))))
    objects.set('large/a.bin', randomBytes(12 * MiB + 3))
    objects.set('large/b.bin', randomBytes(9 * MiB))
    for (const [key, body] of objects) await putBytes(source, key, body)
    await plakar.ok(['at', ...repo, 'create'])
  }, 120_000)
  afterAll(async () => {
    await proxy?.close()
    env.s.cleanup()
  })

  const backup = () => plakar.run(['at', ...repo, 'backup', '--json', `s3://${via}/${source}`, ...OPTS], {timeout: 240_000})
  const check = async () => {
    proxy.clear()
    await plakar.ok(['at', ...repo, 'check'])
  }
  /** A restore into a local directory is bit-exact. */
  const expectRestored = async (snapshot: string) => {
    const out = join(env.s.dir, `out-${randomBytes(4).toString('hex')}`)
    await plakar.ok(['at', ...repo, 'restore', '--to', out, snapshot])
    for (const [key, body] of objects) expect(sha(await readFile(join(out, key))), key).toBe(sha(body))
  }

  it('connections reset mid-transfer: the backup finishes after retries, check passes, restore is exact', async () => {
    proxy.cutAll()
    const cutsBefore = proxy.stats.cuts
    // The next 6 connections die once 400 KiB have gone through them, either way.
    proxy.set({cutAfterBytes: 400 * KiB, connections: 6})
    const r = await backup()
    expect(r.exitCode, String(r.stderr)).toBe(0)
    expect(proxy.stats.cuts - cutsBefore, 'connections the proxy cut').toBeGreaterThan(0)
    const {id: snapshot, errors} = JSON.parse(String(r.stdout)) as {id: string; errors: number}
    expect(errors).toBe(0)
    await check()
    await expectRestored(snapshot)
  })

  it('connections that stall are abandoned after the idle timeout and retried', async () => {
    proxy.cutAll()
    proxy.set({stallAfterBytes: 300 * KiB, connections: 3})
    await putBytes(source, 'changed/after-stall.bin', randomBytes(2 * MiB)) // something new to read and upload
    const t0 = Date.now()
    const r = await backup()
    expect(r.exitCode, String(r.stderr)).toBe(0)
    expect(Date.now() - t0, 'a stall costs at least one idle timeout').toBeGreaterThan(3000)
    await check()
  })

  it('40 ms of latency each way: the backup finishes', async () => {
    proxy.cutAll()
    proxy.set({latencyMs: 40})
    const r = await backup()
    expect(r.exitCode, String(r.stderr)).toBe(0)
    await check()
  })

  it('a restore into a bucket through reset connections is exact', async () => {
    proxy.clear()
    const latest = JSON.parse(String((await plakar.ok(['at', ...repo, 'ls', '--json'])).stdout).trim().split('\n').at(-1)!) as {id: string}
    const target = uniqueName('plakar-faults-dst')
    proxy.cutAll()
    proxy.set({cutAfterBytes: 1 * MiB, connections: 4})
    await plakar.ok(['at', ...repo, 'restore', '--to', `s3://${via}/${target}`, ...OPTS, latest.id], {timeout: 240_000})
    proxy.clear()
    const keys = (await listObjects(target)).map((o) => o.key)
    for (const [key, body] of objects) {
      expect(keys, key).toContain(key)
      expect(sha(await getObject(target, key)), key).toBe(sha(body))
    }
  })

  it('a network that stays down: the backup fails with one line, then check passes and the next backup succeeds', async () => {
    proxy.clear()
    // New data, so that the backup has uploads to make when the network goes away.
    for (let i = 0; i < 3; i++) await putBytes(source, `outage/blob-${i}.bin`, randomBytes(8 * MiB))
    const before = proxy.stats.bytesDown + proxy.stats.bytesUp
    const running = backup()
    // Once the backup has moved 6 MiB, every connection is cut and every new one refused.
    while (proxy.stats.bytesDown + proxy.stats.bytesUp - before < 6 * MiB) await new Promise((resolve) => setTimeout(resolve, 20))
    proxy.set({refuse: true})
    proxy.cutAll()
    const r = await running
    expectOneLineError(r, 1, /cannot reach http:\/\/127\.0\.0\.1:\d+ .*\(after \d+ attempts\)/)
    expect(String(r.stdout)).toBe('')
    await check()
    const again = await backup()
    expect(again.exitCode, String(again.stderr)).toBe(0)
    await check()
  })
})

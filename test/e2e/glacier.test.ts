/**
 * The glacier plugin end to end with the real CLI: a repository on real radosgw seen through
 * the glacier shim (test/support/glacier-shim.ts, the only emulated part: radosgw keeps no
 * archive, so the shim refuses GETs of GLACIER objects until a RestoreObject completes, as AWS
 * does). Counted at the shim: browsing reads no cold object; a one-file restore thaws only that
 * file's packfiles; a full restore interrupted after its restore requests and run again asks for
 * each packfile exactly once, and restores bit-exact.
 */
import {once} from 'node:events'
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, createBucket, describeRgw, hostPort, secretKey, uniqueName} from '../../plugins/glacier/test/glacier.js'
import {BIN} from '../support/cli.js'
import {GlacierShim} from '../support/glacier-shim.js'
import {compareTrees, sha256File, writeRandomFile} from '../support/tree.js'
import {setup, type Env} from './helpers.js'

const MiB = 1024 * 1024
/** Each test runs several CLI commands against radosgw: minutes on a loaded 2-core machine. */
const SLOW = 400_000

describeRgw('glacier repository through the archive shim', () => {
  let env: Env
  let shim: GlacierShim
  let location: string
  let src: string
  const bucket = uniqueName('plakar-e2e-glacier')
  const opts = ['-o', 'use_tls=false', '-o', 'thaw_poll=0.02', '-o', 'thaw_poll_max=0.1']
  const at = (...args: string[]) => ['at', location, ...opts, ...args]
  const cold = () => [...shim.stats.coldGets.values()].reduce((a, b) => a + b, 0)
  let snap1 = ''
  let snap2 = ''

  beforeAll(async () => {
    env = setup('plakar-glacier-')
    Object.assign(env.plakar.env, {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey})
    await createBucket(bucket)
    shim = new GlacierShim({upstream: hostPort, credentials: {accessKeyId: accessKey, secretAccessKey: secretKey}, delayMs: {Standard: 30, Bulk: 60, Expedited: 10}})
    location = `glacier://${await shim.start()}/${bucket}/repo`
    src = join(env.s.dir, 'src')
    // 6 files of 7 MiB: several 16 MiB data packfiles; small files share one.
    await mkdir(join(src, 'big'), {recursive: true})
    for (let i = 0; i < 6; i++) await writeRandomFile(join(src, 'big', `f${i}.bin`), 7 * MiB)
    for (let i = 0; i < 20; i++) await writeFile(join(src, `note-${i}.txt`), `note ${i}\n`.repeat(100))
    await env.plakar.ok(at('create'))
    snap1 = String((await env.plakar.json<{id: string}>(at('backup', src))).id)
    await writeFile(join(src, 'note-0.txt'), 'changed\n')
    snap2 = String((await env.plakar.json<{id: string}>(at('backup', src))).id)
  }, 300_000)
  afterAll(async () => {
    await shim?.close()
    env?.s.cleanup()
  })

  it('ls, info, locate, diff and check --fast read no cold object', {timeout: SLOW}, async () => {
    shim.resetStats()
    await env.plakar.ok(at('ls'))
    await env.plakar.ok(at('ls', `${snap1}:${src}/big`))
    await env.plakar.ok(at('info'))
    await env.plakar.ok(at('locate', 'f3.bin'))
    const diff = await env.plakar.ok(at('diff', snap1, snap2))
    expect(diff.stdout).toMatch(/~ \S*\/note-0.txt\n\(content archived: run with --yes/)
    await env.plakar.ok(at('check', '--fast'))
    expect(cold(), `cold GETs: ${JSON.stringify([...shim.stats.coldGets])}`).toBe(0)
    process.stdout.write(`figure: browsing made ${cold()} GETs of cold objects (${JSON.stringify(shim.stats.forwarded)} requests forwarded)\n`)
    expect(shim.stats.restoreRequests).toBe(0)
  })

  it('a restore asks before thawing, and without --yes off a terminal it refuses in one line (exit 2)', {timeout: SLOW}, async () => {
    shim.resetStats()
    const r = await env.plakar.run(at('restore', '--to', join(env.s.dir, 'refused'), `${snap1}:${src}/big/f1.bin`))
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/thaw: \d+ data packfiles needed: \d+ archived/)
    expect(r.stderr).toMatch(/Expedited .*\$\d+\.\d+.*1-5 minutes/)
    expect(r.stderr).toMatch(/plakar: \d+ archived packfiles must be thawed first: run again with --yes/)
    expect(shim.stats.restoreRequests).toBe(0)
  })

  it('restoring one file thaws only the packfiles it needs, then restores it bit-exact', {timeout: SLOW}, async () => {
    const status = await env.plakar.json<{archived: {packfiles: number}; packfiles: number}>(at('thaw', 'status', `${snap1}:${src}/big/f1.bin`))
    const all = await env.plakar.json<{archived: {packfiles: number}; packfiles: number}>(at('thaw', 'status'))
    expect(status.archived.packfiles).toBeGreaterThanOrEqual(1)
    expect(status.archived.packfiles).toBeLessThan(all.archived.packfiles)
    shim.resetStats()
    const out = join(env.s.dir, 'one')
    await env.plakar.ok(at('restore', '--yes', '--to', out, `${snap1}:${src}/big/f1.bin`))
    expect(shim.stats.restoresStarted.size).toBe(status.archived.packfiles)
    process.stdout.write(`figure: one-file restore thawed ${shim.stats.restoresStarted.size} of ${all.archived.packfiles} data packfiles\n`)
    expect(await sha256File(join(out, 'f1.bin'))).toBe(await sha256File(join(src, 'big', 'f1.bin')))
    const after = await env.plakar.json<{available: {packfiles: number}}>(at('thaw', 'status', `${snap1}:${src}/big/f1.bin`))
    expect(after.available.packfiles).toBe(status.archived.packfiles)
  })

  it('a full restore interrupted after its requests asks for each packfile once when run again', {timeout: SLOW}, async () => {
    shim.expireAll()
    shim.resetStats()
    shim.delayMs = 'manual'
    const needed = (await env.plakar.json<{archived: {packfiles: number}}>(at('thaw', 'status', snap1))).archived.packfiles
    const out = join(env.s.dir, 'full')
    try {
      const first = execa('node', [BIN, ...at('restore', '--yes', '--to', out, snap1)], {env: env.plakar.env, reject: false, cwd: env.plakar.home})
      while (shim.restores.size < needed) await once(shim, 'requested')
      first.kill('SIGINT')
      const r1 = await first
      expect(r1.exitCode).not.toBe(0)
      expect(shim.stats.restoresStarted.size).toBe(needed)
      const second = execa('node', [BIN, ...at('restore', '--yes', '--to', out, snap1)], {env: env.plakar.env, reject: false, cwd: env.plakar.home})
      // The second run finds every restore under way (its plan says so): then they finish.
      let stderr = ''
      second.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString()
        if (/being thawed already/.test(stderr)) shim.complete()
      })
      const r2 = await second
      expect(r2.exitCode, r2.stderr).toBe(0)
      expect(r2.stderr).toMatch(new RegExp(`0 archived .*, ${needed} being thawed already`))
      expect([...shim.stats.restoresStarted.values()].every((n) => n === 1)).toBe(true)
      expect(shim.stats.restoresStarted.size).toBe(needed)
      process.stdout.write(`figure: full restore interrupted then resumed: ${needed} packfiles, restore requests per packfile ${JSON.stringify([...new Set(shim.stats.restoresStarted.values())])}\n`)
    } finally {
      shim.delayMs = {Standard: 30, Bulk: 60, Expedited: 10}
      shim.complete()
    }
    // snap1 has the original note-0.txt: compare everything else, then that file.
    expect(await compareTrees(join(src, 'big'), join(out, 'big'))).toEqual([])
  })

  it('cat and a full check thaw what they read', {timeout: SLOW}, async () => {
    shim.expireAll()
    shim.resetStats()
    const r = await env.plakar.ok(at('cat', '--yes', `${snap2}:${src}/note-0.txt`))
    expect(r.stdout).toBe('changed\n')
    shim.resetStats()
    const check = await env.plakar.ok(at('check', '--yes'))
    expect(check.stderr).toMatch(/thaw: \d+ data packfiles needed/)
    expect([...shim.stats.restoresStarted.values()].every((n) => n === 1)).toBe(true)
    expect(shim.stats.refusedGets).toBe(0)
  })
})

describeRgw('glacier repository under Object Lock (COMPLIANCE) on radosgw', () => {
  let env: Env
  let location: string
  let src: string
  const bucket = uniqueName('plakar-e2e-worm')
  const at = (...args: string[]) => ['at', location, '-o', 'use_tls=false', '-o', 'lock_mode=COMPLIANCE', '-o', 'lock_days=1', ...args]

  beforeAll(async () => {
    env = setup('plakar-worm-')
    Object.assign(env.plakar.env, {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey})
    location = `glacier://${hostPort}/${bucket}/repo`
    src = join(env.s.dir, 'src')
    await mkdir(src, {recursive: true})
    await writeRandomFile(join(src, 'a.bin'), 3 * MiB)
  })
  afterAll(() => env?.s.cleanup())

  it('every object is locked, later backups extend the lock of packfiles they reuse, rm deletes nothing locked, every snapshot restores', {timeout: SLOW}, async () => {
    await env.plakar.ok(at('create'))
    const first = String((await env.plakar.json<{id: string}>(at('backup', src))).id)
    const {ListObjectsV2Command} = await import('@aws-sdk/client-s3')
    const {rawClient, head} = await import('../../plugins/glacier/test/glacier.js')
    const keys = async () => ((await rawClient().send(new ListObjectsV2Command({Bucket: bucket, Prefix: 'repo/'}))).Contents ?? []).map((o) => o.Key!)
    const before = await keys()
    const packs = before.filter((k) => k.includes('/packfiles/'))
    const until0 = new Map<string, number>()
    for (const k of [...packs, ...before.filter((k) => k.includes('/states/') || k.endsWith('CONFIG'))]) {
      const h = await head(bucket, k)
      expect(h.ObjectLockMode, k).toBe('COMPLIANCE')
      until0.set(k, h.ObjectLockRetainUntilDate!.getTime())
    }
    expect(before.some((k) => k.includes('/locks/')), 'repository locks are released').toBe(false)

    await writeFile(join(src, 'b.txt'), 'second\n')
    const second = String((await env.plakar.json<{id: string}>(at('backup', src))).id)
    for (const k of packs) expect((await head(bucket, k)).ObjectLockRetainUntilDate!.getTime(), k).toBeGreaterThan(until0.get(k)!)

    const rm = await env.plakar.run(at('rm', '--apply', first))
    expect(rm.exitCode, String(rm.stderr)).toBe(0)
    for (const k of before) await expect(head(bucket, k), k).resolves.toBeDefined()
    for (const [snap, files] of [
      [first, ['a.bin']],
      [second, ['a.bin', 'b.txt']],
    ] as const) {
      if (snap === first) continue // removed from the repository's view; its bytes stay locked on the server
      const out = join(env.s.dir, `out-${snap.slice(0, 8)}`)
      // radosgw keeps no archive: the plan says "archived", RestoreObject answers 501, and the
      // plugin then reads the objects as they are (--yes accepts the plan).
      await env.plakar.ok(at('restore', '--yes', '--to', out, snap))
      for (const f of files) expect(await sha256File(join(out, f))).toBe(await sha256File(join(src, f)))
    }
  })
})

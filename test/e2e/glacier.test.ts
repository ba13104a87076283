/**
 * The glacier plugin end to end with the real CLI: a repository on real radosgw seen through
 * the glacier shim (test/support/glacier-shim.ts, the only emulated part: radosgw keeps no
 * archive, so the shim refuses GETs of GLACIER objects until a RestoreObject completes, as AWS
 * does). Counted at the shim: browsing reads no cold object; a one-file restore thaws only that
 * file's packfiles; a full restore interrupted after its restore requests and run again asks for
 * each packfile exactly once, and restores bit-exact; a restore writes files whose packfiles are
 * readable while the others still thaw.
 */
import {once} from 'node:events'
import {watch} from 'node:fs'
import {mkdir, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {execa} from 'execa'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, createBucket, describeRgw, hostPort, secretKey, uniqueName} from '../../plugins/glacier/test/glacier.js'
import {BIN} from '../support/cli.js'
import {schemaErrors} from '../support/json-schema.js'
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

  it('ls, info, locate, diff, check --fast and sync planning read no cold object', {timeout: SLOW}, async () => {
    shim.resetStats()
    await env.plakar.ok(at('ls'))
    await env.plakar.ok(at('ls', `${snap1}:${src}/big`))
    await env.plakar.ok(at('info'))
    await env.plakar.ok(at('locate', 'f3.bin'))
    const diff = await env.plakar.ok(at('diff', snap1, snap2))
    expect(diff.stdout).toMatch(/~ \S*\/note-0.txt\n\(content archived: run with --yes/)
    await env.plakar.ok(at('check', '--fast'))
    // sync planning: what a peer lacks is worked out from metadata (a dry run plans only).
    const planned = join(env.s.dir, 'planned-peer')
    await env.plakar.ok(['at', planned, 'create', '--from', location, ...opts.filter((o) => o !== '-o').flatMap((o) => ['--peer-option', o])])
    const plan = await env.plakar.ok(at('sync', '--dry-run', 'to', planned))
    expect(String(plan.stdout) + String(plan.stderr)).toMatch(/2 snapshots to copy/)
    expect(cold(), `cold GETs: ${JSON.stringify([...shim.stats.coldGets])}`).toBe(0)
    process.stdout.write(`figure: browsing made ${cold()} GETs of cold objects (${JSON.stringify(shim.stats.forwarded)} requests forwarded)\n`)
    expect(shim.stats.restoreRequests).toBe(0)
  })

  it('browsing in the web UI (snapshots, folders, entries, search, timeline, a tree diff) reads no cold object', {timeout: SLOW}, async () => {
    const ui = execa('node', [BIN, ...at('ui', '--no-open')], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home, buffer: {stdout: false, stderr: true}})
    try {
      let line = ''
      for await (const l of createInterface({input: ui.stdout!})) {
        line = l
        break
      }
      const link = /(http:\/\/127\.0\.0\.1:\d+\/login\?token=[\w-]+)/.exec(line)?.[1]
      expect(link, line).toBeDefined()
      const login = await fetch(link!, {redirect: 'manual'})
      const cookie = login.headers.get('set-cookie')!.split(';')[0]
      const origin = new URL(link!).origin
      shim.resetStats()
      const get = async (path: string) => {
        const r = await fetch(origin + path, {headers: {cookie}})
        expect(r.status, `${path}: ${await r.clone().text()}`).toBe(200)
        return r.json()
      }
      const q = encodeURIComponent
      await get('/api/repository')
      await get('/api/snapshots')
      await get(`/api/snapshots/${snap1}/children?path=${q(src)}`)
      await get(`/api/snapshots/${snap1}/children?path=${q(`${src}/big`)}`)
      await get(`/api/snapshots/${snap1}/entry?path=${q(`${src}/big/f3.bin`)}`)
      await get(`/api/snapshots/${snap2}/search?name=note`)
      await get(`/api/snapshots/${snap2}/timeline?path=${q(`${src}/note-0.txt`)}`)
      await get(`/api/diff?a=${snap1}&b=${snap2}`)
      expect(shim.stats.forwarded.GET ?? 0, 'the UI read the repository').toBeGreaterThan(0)
      expect(cold(), `cold GETs: ${JSON.stringify([...shim.stats.coldGets])}`).toBe(0)
      expect(shim.stats.restoreRequests).toBe(0)
    } finally {
      ui.kill('SIGINT')
      await ui
    }
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
    const after = await env.plakar.json<{thawed: {packfiles: number}; firstExpiry: string}>(at('thaw', 'status', `${snap1}:${src}/big/f1.bin`))
    expect(after.thawed.packfiles).toBe(status.archived.packfiles)
    // Both shapes (nothing thawed yet: firstExpiry null; then a date) match the documented schema.
    expect(schemaErrors('thaw status', status)).toBe('')
    expect(schemaErrors('thaw status', after)).toBe('')
    expect(Date.parse(after.firstExpiry)).toBeGreaterThan(Date.now())
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

  it('a restore writes each file as soon as its packfiles are readable, while the others still thaw', {timeout: SLOW}, async () => {
    shim.expireAll()
    // The packfiles of f0.bin are thawed (by a one-file restore); every other thaw is then held.
    await env.plakar.ok(at('restore', '--yes', '--to', join(env.s.dir, 'stream-f0'), `${snap1}:${src}/big/f0.bin`))
    const rest = await env.plakar.json<{archived: {packfiles: number}; thawed: {packfiles: number}}>(at('thaw', 'status', `${snap1}:${src}/big`))
    expect(rest.thawed.packfiles).toBeGreaterThanOrEqual(1)
    expect(rest.archived.packfiles, 'packfiles of the other files are still archived').toBeGreaterThanOrEqual(1)
    shim.resetStats()
    shim.delayMs = 'manual'
    const out = join(env.s.dir, 'stream')
    await mkdir(out)
    const f0 = join(src, 'big', 'f0.bin')
    const wanted = {size: (await stat(f0)).size, sha: await sha256File(f0)}
    // f0.bin complete and bit-exact in the target, seen by watching the target's writes.
    const watcher = watch(out)
    const restored = new Promise<void>((resolve) => {
      let checking = false
      let again = false
      const check = async (): Promise<void> => {
        if (checking) {
          again = true
          return
        }
        checking = true
        do {
          again = false
          const size = await stat(join(out, 'f0.bin')).then((s) => s.size, () => -1)
          if (size === wanted.size && (await sha256File(join(out, 'f0.bin'))) === wanted.sha) return resolve()
        } while (again)
        checking = false
      }
      watcher.on('change', () => void check())
    })
    const run = execa('node', [BIN, ...at('restore', '--yes', '--to', out, `${snap1}:${src}/big`)], {env: env.plakar.env, reject: false, cwd: env.plakar.home})
    let exited = false
    void run.finally(() => (exited = true))
    try {
      await Promise.race([
        restored,
        run.then((r) => {
          throw new Error(`the restore ended (exit ${r.exitCode}) before f0.bin was restored: ${String(r.stderr)}`)
        }),
      ])
      const held = [...shim.restores.values()].filter((r) => r.readyAt === undefined)
      expect(exited, 'the restore is still running').toBe(false)
      expect(held.length, 'other packfiles are still being thawed').toBe(rest.archived.packfiles)
      process.stdout.write(`figure: f0.bin restored bit-exact while ${held.length} of ${rest.archived.packfiles + rest.thawed.packfiles} packfiles were still thawing\n`)
    } finally {
      watcher.close()
      shim.delayMs = {Standard: 30, Bulk: 60, Expedited: 10}
      shim.complete()
    }
    const r = await run
    expect(r.exitCode, String(r.stderr)).toBe(0)
    expect(String(r.stderr)).toMatch(new RegExp(`thaw: ${rest.thawed.packfiles}/${rest.archived.packfiles + rest.thawed.packfiles} packfiles readable`))
    expect(await compareTrees(join(src, 'big'), out)).toEqual([])
  })

  it('sync to @vault from an fs repository makes the 3-2-1 copy in one command: data archived, metadata hot, restorable', {timeout: SLOW}, async () => {
    const {ListObjectsV2Command} = await import('@aws-sdk/client-s3')
    const {rawClient, head} = await import('../../plugins/glacier/test/glacier.js')
    const local = join(env.s.dir, 'local-repo')
    await env.plakar.ok(['at', local, 'create'])
    const id = String((await env.plakar.json<{id: string}>(['at', local, 'backup', src])).id)
    const vault = location.replace(/\/repo$/, '/vault')
    await env.plakar.ok(['store', 'add', 'vault', vault, 'use_tls=false', 'thaw_poll=0.02', 'thaw_poll_max=0.1'])
    await env.plakar.ok(['at', '@vault', 'create', '--from', local])
    shim.resetStats()
    const sync = await env.plakar.ok(['at', local, 'sync', 'to', '@vault'])
    expect(String(sync.stderr) + String(sync.stdout)).toMatch(/1 snapshots to copy/)
    expect(shim.stats.restoreRequests, 'a sync to glacier thaws nothing').toBe(0)
    expect(cold(), 'a sync to glacier reads no cold object').toBe(0)
    const keys = ((await rawClient().send(new ListObjectsV2Command({Bucket: bucket, Prefix: 'vault/packfiles/'}))).Contents ?? []).map((o) => o.Key!)
    const classes = new Map<string, number>()
    for (const k of keys) {
      const c = (await head(bucket, k)).StorageClass ?? 'STANDARD'
      classes.set(c, (classes.get(c) ?? 0) + 1)
    }
    expect(classes.get('GLACIER'), JSON.stringify([...classes])).toBeGreaterThan(0)
    expect(classes.get('STANDARD'), JSON.stringify([...classes])).toBeGreaterThan(0)
    process.stdout.write(`figure: sync to @vault: packfiles by class ${JSON.stringify(Object.fromEntries(classes))}\n`)
    const out = join(env.s.dir, 'from-vault')
    await env.plakar.ok(['at', '@vault', 'restore', '--yes', '--to', out, `${id}:${src}/big/f2.bin`])
    expect(await sha256File(join(out, 'f2.bin'))).toBe(await sha256File(join(src, 'big', 'f2.bin')))
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

  it('every object is locked, later backups and maintenance extend the lock of what live snapshots use, rm + maintenance delete nothing locked and say so, every snapshot restores', {timeout: SLOW}, async () => {
    await env.plakar.ok(at('create'))
    const first = String((await env.plakar.json<{id: string}>(at('backup', src))).id)
    const {ListObjectsV2Command} = await import('@aws-sdk/client-s3')
    const {rawClient, head} = await import('../../plugins/glacier/test/glacier.js')
    const keys = async () => ((await rawClient().send(new ListObjectsV2Command({Bucket: bucket, Prefix: 'repo/'}))).Contents ?? []).map((o) => o.Key!)
    const untilOf = async (k: string) => (await head(bucket, k)).ObjectLockRetainUntilDate!.getTime()
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
    const until1 = new Map<string, number>()
    for (const k of packs) {
      until1.set(k, await untilOf(k))
      expect(until1.get(k), k).toBeGreaterThan(until0.get(k)!)
    }

    const rm = await env.plakar.run(at('rm', '--apply', first))
    expect(rm.exitCode, String(rm.stderr)).toBe(0)
    // Maintenance deletes what only the removed snapshot used: the server would refuse, so the
    // plugin does not ask; maintenance says what it kept and until when, and extends the lock of
    // everything the live snapshot still uses (written by the first backup, reused by the second).
    const m = await env.plakar.run(at('maintenance', '--grace', '0', '--json'))
    expect(m.exitCode, String(m.stderr)).toBe(0)
    const report = JSON.parse(String(m.stdout)) as {deleted: number; retained: {packfile: string; reason: string}[]; retentionExtended: number; retainedUntil: string}
    expect(report.retained.length, String(m.stdout)).toBeGreaterThan(0)
    expect(report.deleted).toBe(0)
    for (const r of report.retained) expect(r.reason).toMatch(/locked \(COMPLIANCE\) until \d{4}-\d\d-\d\d: kept/)
    expect(String(m.stderr)).toMatch(/was kept: the storage refuses to delete it \(.*locked \(COMPLIANCE\)/)
    for (const k of before) await expect(head(bucket, k), k).resolves.toBeDefined()
    const after = await keys()
    const retained = new Set(report.retained.map((r) => r.packfile))
    const live = after.filter((k) => k.includes('/packfiles/') && !retained.has(k.slice(k.lastIndexOf('/') + 1)))
    expect(live.length).toBeGreaterThan(0)
    expect(report.retentionExtended).toBeGreaterThanOrEqual(live.length)
    const retainedUntil = Date.parse(report.retainedUntil)
    for (const k of live) {
      const h = await head(bucket, k)
      expect(h.ObjectLockMode, k).toBe('COMPLIANCE')
      // (the server may keep whole seconds)
      expect(h.ObjectLockRetainUntilDate!.getTime(), k).toBeGreaterThanOrEqual(retainedUntil - 1000)
      if (until1.has(k)) expect(h.ObjectLockRetainUntilDate!.getTime(), `${k} extended by maintenance`).toBeGreaterThan(until1.get(k)!)
    }
    // What only the removed snapshot used is left to expire: its lock is not extended.
    for (const k of after.filter((k) => retained.has(k.slice(k.lastIndexOf('/') + 1)))) expect(await untilOf(k)).toBeLessThan(retainedUntil)
    process.stdout.write(
      `figure: COMPLIANCE: rm + maintenance deleted ${report.deleted} objects, kept ${report.retained.length} locked packfiles, extended the lock of ${report.retentionExtended} live objects\n`,
    )

    const out = join(env.s.dir, `out-${second.slice(0, 8)}`)
    // radosgw keeps no archive: the plan says "archived", RestoreObject answers 501, and the
    // plugin then reads the objects as they are (--yes accepts the plan).
    await env.plakar.ok(at('restore', '--yes', '--to', out, second))
    for (const f of ['a.bin', 'b.txt']) expect(await sha256File(join(out, f))).toBe(await sha256File(join(src, f)))
  })
})

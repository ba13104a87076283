/**
 * Figure of issue 14 (not part of npm test; run on purpose):
 *
 *   npm run build && PLAKAR_TEST_SERVICES=radosgw CEPH_MEMSTORE_BYTES=$((6 << 30)) \
 *     npx vitest run --config test/bench/glacier-browse.config.ts
 *
 * A ≈1 GB real tree (copies of /usr/lib/x86_64-linux-gnu, /usr/lib/gcc and /usr/include: shared
 * objects, static libraries, headers) is backed up twice (a few files changed in between) into a
 * glacier repository on real radosgw, seen through the archive shim (test/support/glacier-shim.ts,
 * the only emulated part), which counts every request. Then `ls`, `info`, `locate`, `diff` and
 * `check --fast` run, each counted on its own: every one must make zero GETs of cold (archived)
 * objects. As a control that the counter sees cold reads, `cat` of one file (after its thaw)
 * does read cold objects. TREE_DIRS (colon-separated) replaces the source directories.
 */
import {execFileSync} from 'node:child_process'
import {appendFile, mkdir, readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, createBucket, describeRgw, hostPort, secretKey, uniqueName} from '../support/rgw.js'
import {GlacierShim} from '../support/glacier-shim.js'
import {setup, type Env} from '../e2e/helpers.js'

const DIRS = (process.env.TREE_DIRS ?? '/usr/lib/x86_64-linux-gnu:/usr/lib/gcc:/usr/include').split(':').filter(Boolean)
const HOURS = 3 * 3_600_000

/** A regular file somewhere below `dir` (the first one in name order, depth first). */
async function someFile(dir: string): Promise<string | undefined> {
  for (const e of (await readdir(dir, {withFileTypes: true})).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name)
    if (e.isFile() && (await stat(p)).size > 0) return p
    if (e.isDirectory()) {
      const found = await someFile(p)
      if (found) return found
    }
  }
  return undefined
}

describeRgw('glacier: browsing a 1 GB real tree reads no cold object', () => {
  let env: Env
  let shim: GlacierShim
  let location: string
  let tree: string
  let snap1 = ''
  let snap2 = ''
  const bucket = uniqueName('plakar-bench-glacier')
  const at = (...args: string[]) => ['at', location, '-o', 'use_tls=false', '-o', 'thaw_poll=0.05', '-o', 'thaw_poll_max=0.2', ...args]
  const cold = () => [...shim.stats.coldGets.values()].reduce((a, b) => a + b, 0)
  const rows: string[] = []

  beforeAll(async () => {
    env = setup('plakar-bench-glacier-')
    Object.assign(env.plakar.env, {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey})
    tree = join(env.s.dir, 'tree')
    await mkdir(tree)
    // Copied, so that the second snapshot can differ from the first without touching /usr.
    for (const d of DIRS) execFileSync('cp', ['-a', d, join(tree, d.replace(/^\//, '').replace(/\//g, '_'))])
    await createBucket(bucket)
    shim = new GlacierShim({upstream: hostPort, credentials: {accessKeyId: accessKey, secretAccessKey: secretKey}, delayMs: {Standard: 50, Bulk: 100, Expedited: 20}})
    location = `glacier://${await shim.start()}/${bucket}/repo`
    await env.plakar.ok(at('create'))
  }, HOURS)
  afterAll(async () => {
    await shim?.close()
    env?.s.cleanup()
  })

  it('backs up the tree twice, then ls, info, locate, diff and check --fast make zero GETs of cold objects', {timeout: HOURS}, async () => {
    const bytes = Number(execFileSync('du', ['-sb', tree]).toString().split('\t')[0])
    const files = Number(execFileSync('bash', ['-c', `find '${tree}' -type f | wc -l`]).toString().trim())
    let t = Date.now()
    snap1 = String((await env.plakar.json<{id: string}>(at('backup', tree))).id)
    const backup1 = Date.now() - t
    // A few files change: appended to, so the diff has content changes to report.
    const changed = (await Promise.all(DIRS.map((d) => someFile(join(tree, d.replace(/^\//, '').replace(/\//g, '_')))))).filter((p): p is string => !!p)
    for (const p of changed) await appendFile(p, 'changed for the diff\n')
    t = Date.now()
    snap2 = String((await env.plakar.json<{id: string}>(at('backup', tree))).id)
    const backup2 = Date.now() - t
    const all = (await env.plakar.json<{archived: {packfiles: number; bytes?: number}}>(at('thaw', 'status'))).archived
    const target = changed[0]
    const name = target.slice(target.lastIndexOf('/') + 1)
    const commands: [string, string[]][] = [
      ['ls', at('ls')],
      ['ls SNAPSHOT:PATH', at('ls', `${snap1}:${tree}`)],
      ['info', at('info')],
      ['info SNAPSHOT', at('info', snap1)],
      ['locate NAME', at('locate', name)],
      ['diff (tree)', at('diff', snap1, snap2)],
      ['check --fast', at('check', '--fast')],
    ]
    rows.push(`tree: ${files} files, ${bytes} bytes (${(bytes / 1e9).toFixed(2)} GB) from ${DIRS.join(', ')}`)
    rows.push(`backups: ${(backup1 / 1000).toFixed(1)} s, then ${(backup2 / 1000).toFixed(1)} s (${changed.length} files changed); ${all.packfiles} data packfiles archived`)
    rows.push('| command | requests at the shim | GETs of cold objects |')
    rows.push('|---|---|---|')
    let total = 0
    for (const [label, args] of commands) {
      shim.resetStats()
      const r = await env.plakar.run(args)
      expect(r.exitCode, `${label}: ${String(r.stderr)}`).toBe(0)
      const requests = Object.values(shim.stats.forwarded).reduce((a, b) => a + b, 0)
      rows.push(`| \`${label}\` | ${requests} (${JSON.stringify(shim.stats.forwarded)}) | ${cold()} |`)
      total += cold()
      expect(cold(), `${label} read cold objects: ${JSON.stringify([...shim.stats.coldGets])}`).toBe(0)
      expect(shim.stats.restoreRequests, `${label} asked for thaws`).toBe(0)
    }
    // Control: reading file content does GET cold objects (after thawing them), so zero above
    // is a count, not a blind spot.
    shim.resetStats()
    const cat = await env.plakar.run(at('cat', '--yes', `${snap2}:${target}`))
    expect(cat.exitCode, String(cat.stderr)).toBe(0)
    rows.push(`| control: \`cat --yes\` of one file | ${Object.values(shim.stats.forwarded).reduce((a, b) => a + b, 0)} | ${cold()} (after ${shim.stats.restoresStarted.size} thaws) |`)
    expect(cold()).toBeGreaterThan(0)
    expect(total).toBe(0)
    process.stdout.write(`\nfigure (issue 14):\n${rows.join('\n')}\n\n`)
  })
})

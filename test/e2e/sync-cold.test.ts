/**
 * sync from a cold repository (glacier on real radosgw, through the archive shim of
 * test/support/glacier-shim.ts, which refuses a GET of an archived object until it is thawed):
 * a sync thaws only the data packfiles it reads. After a first sync, a second snapshot adds one
 * file; the next sync to a peer (copy) and to a repository with another passphrase (re-encode)
 * asks for the restore of that file's packfiles and of no other, and the copies restore bit-exact.
 * Counted at the shim; an under-thawed sync would fail on a refused GET.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, createBucket, describeRgw, hostPort, secretKey, uniqueName} from '../../plugins/glacier/test/glacier.js'
import {GlacierShim} from '../support/glacier-shim.js'
import {ageTree, compareTrees, sha256File, writeRandomFile} from '../support/tree.js'
import {setup, type Env} from './helpers.js'

const MiB = 1024 * 1024
const SLOW = 600_000

describeRgw('sync from a cold repository', () => {
  let env: Env
  let shim: GlacierShim
  let location: string
  let src: string
  const bucket = uniqueName('plakar-e2e-sync-cold')
  const options = ['use_tls=false', 'thaw_poll=0.02', 'thaw_poll_max=0.1']
  const at = (...args: string[]) => ['at', location, ...options.flatMap((o) => ['-o', o]), ...args]
  const peerOptions = options.flatMap((o) => ['--peer-option', o])
  const other = {PLAKAR_PASSPHRASE: 'another passphrase'}
  let peer = ''
  let stranger = ''

  beforeAll(async () => {
    env = setup('plakar-sync-cold-')
    Object.assign(env.plakar.env, {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey})
    await createBucket(bucket)
    shim = new GlacierShim({upstream: hostPort, credentials: {accessKeyId: accessKey, secretAccessKey: secretKey}, delayMs: {Standard: 30, Bulk: 60, Expedited: 10}})
    location = `glacier://${await shim.start()}/${bucket}/repo`
    src = join(env.s.dir, 'src')
    // Several 16 MiB data packfiles; the small notes share one.
    await mkdir(join(src, 'big'), {recursive: true})
    for (let i = 0; i < 5; i++) await writeRandomFile(join(src, 'big', `f${i}.bin`), 7 * MiB)
    for (let i = 0; i < 10; i++) await writeFile(join(src, `note-${i}.txt`), `note ${i}\n`.repeat(100))
    // Written long ago, as far as the backups can tell: a file modified in the seconds before a
    // backup is read again by the next one (racily clean), and a re-encoding sync thaws it then.
    await ageTree(src)
    await env.plakar.ok(at('create'))
    await env.plakar.ok(at('backup', src))
    peer = join(env.s.dir, 'peer')
    stranger = join(env.s.dir, 'stranger')
    await env.plakar.ok(['at', peer, 'create', '--from', location, ...peerOptions])
    await env.plakar.ok(['at', stranger, 'create'], {env: other})
    // The first syncs read everything.
    await env.plakar.ok(at('sync', '--yes', 'to', peer))
    await env.plakar.ok(at('sync', '--yes', 'to', stranger), {env: {PLAKAR_PEER_PASSPHRASE: other.PLAKAR_PASSPHRASE}})
  }, SLOW)
  afterAll(async () => {
    await shim?.close()
    env?.s.cleanup()
  })

  it('after one file is added, syncs to a peer and to another repository thaw only its packfiles', {timeout: SLOW}, async () => {
    await writeRandomFile(join(src, 'big', 'added.bin'), 7 * MiB)
    await ageTree(join(src, 'big', 'added.bin'))
    const id = String((await env.plakar.json<{id: string}>(at('backup', src))).id)
    type Status = {archived: {packfiles: number}}
    shim.expireAll()
    const all = (await env.plakar.json<Status>(at('thaw', 'status', id))).archived.packfiles
    const added = (await env.plakar.json<Status>(at('thaw', 'status', `${id}:${src}/big/added.bin`))).archived.packfiles
    expect(added).toBeGreaterThanOrEqual(1)
    expect(all).toBeGreaterThan(added + 2)
    for (const [name, target, extra] of [
      ['a peer (copy)', peer, {}],
      ['a repository with another passphrase (re-encode)', stranger, {PLAKAR_PEER_PASSPHRASE: other.PLAKAR_PASSPHRASE}],
    ] as const) {
      shim.expireAll()
      shim.resetStats()
      const r = await env.plakar.ok(at('sync', '--yes', 'to', target), {env: extra})
      expect(r.stderr).toMatch(new RegExp(`thaw: ${added} data packfiles needed`))
      expect(shim.stats.restoresStarted.size, `${name}: restores asked ${JSON.stringify([...shim.stats.restoresStarted])}`).toBe(added)
      expect(shim.stats.refusedGets).toBe(0)
      process.stdout.write(`figure: sync to ${name} after one added file thawed ${shim.stats.restoresStarted.size} of the snapshot's ${all} data packfiles\n`)
      const out = join(env.s.dir, `out-${target === peer ? 'peer' : 'stranger'}`)
      await env.plakar.ok(['at', target, 'restore', '--to', out, id], target === peer ? {} : {env: other})
      expect(await compareTrees(src, out)).toEqual([])
      expect(await sha256File(join(out, 'big', 'added.bin'))).toBe(await sha256File(join(src, 'big', 'added.bin')))
    }
  })
})

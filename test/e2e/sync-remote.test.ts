/**
 * plakar sync across real storages: a local repository to its peer on S3 (radosgw), that S3
 * repository to its own peer on SFTP (sshd) with both sides remote, and a re-encoding sync to an
 * SFTP repository with another passphrase. Bytes are measured at the storage; restores from
 * every side are compared with the source tree.
 */
import {randomBytes} from 'node:crypto'
import {appendFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, describeS3, hostPort, listObjects, secretKey, uniqueName} from '../../plugins/s3/test/s3.js'
import {compareTrees, packfiles, TreeBuilder} from '../support/tree.js'
import {backup, setup, userPlakar, type Env} from './helpers.js'

interface SyncJson {
  movedBytes: number
  directions: {method: string; copies: {id: string; packfiles: number}[]}[]
}

const sum = (list: {size: number}[]) => list.reduce((n, p) => n + p.size, 0)

describeS3('sync between storages: fs → S3 (peers), S3 → SFTP (peers, both remote), fs → SFTP (re-encode)', () => {
  let env: Env
  let src: string
  const bucket = uniqueName('plakar-sync')
  const s3 = [`s3://${hostPort}/${bucket}/peer`]
  const s3Options = ['-o', 'use_tls=false']
  const sftpEnv = () => {
    const {SFTP_PORT, SFTP_USER, SFTP_ROOT, SFTP_KEY, SFTP_KNOWN_HOSTS} = process.env
    if (!SFTP_PORT || !SFTP_ROOT || !SFTP_KEY || !SFTP_KNOWN_HOSTS) throw new Error('the sshd test service is not running (PLAKAR_TEST_SERVICES must include sshd)')
    return {port: SFTP_PORT, user: SFTP_USER ?? 'root', root: SFTP_ROOT, key: SFTP_KEY, knownHosts: SFTP_KNOWN_HOSTS}
  }
  const sftpRepo = (name: string) => {
    const s = sftpEnv()
    const dir = join(s.root, `${name}-${randomBytes(4).toString('hex')}`)
    return {location: `sftp://${s.user}@127.0.0.1:${s.port}${dir}`, local: dir, options: [`identity=${s.key}`, `known_hosts=${s.knownHosts}`]}
  }
  const s3Packfiles = async () => (await listObjects(bucket, 'peer/packfiles/')).map((o) => ({size: o.size}))

  beforeAll(async () => {
    env = setup('plakar-sync-remote-')
    env.plakar = userPlakar(env.s.dir, {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_REGION: 'us-east-1', SSH_AUTH_SOCK: undefined as unknown as string})
    await env.plakar.ok(env.at('create'))
    src = join(env.s.dir, 'src')
    const b = new TreeBuilder(src)
    for (let i = 0; i < 24; i++) await b.randomFile(`data/part-${i}.bin`, 700 * 1024 + i * 313)
    await b.randomFile('big.bin', 20 * 1024 * 1024)
    await b.file('notes.txt', 'one\n')
    await b.finish()
    await backup(env, [src])
  }, 300_000)
  afterAll(() => env?.s.cleanup())

  it('fs → S3 peer: copies sealed packfiles, restores bit-exact, and a second sync moves about the new packfiles', async () => {
    await env.plakar.ok(['at', ...s3, ...s3Options, 'create', '--from', env.repo])
    const first = await env.plakar.json<SyncJson>(env.at('sync', '--peer-option', 'use_tls=false', 'to', s3[0]))
    expect(first.directions[0].method).toBe('copy')
    expect(sum(await s3Packfiles())).toBe(sum(await packfiles(env.repo)))

    const before = new Set((await packfiles(env.repo)).map((p) => p.id))
    const s3Before = sum(await s3Packfiles())
    await appendFile(join(src, 'notes.txt'), 'two\n')
    await new TreeBuilder(src).randomFile('data/added.bin', 900 * 1024)
    await backup(env, [src])
    const added = sum((await packfiles(env.repo)).filter((p) => !before.has(p.id)))
    await env.plakar.json<SyncJson>(env.at('sync', '--peer-option', 'use_tls=false', 'to', s3[0]))
    const moved = sum(await s3Packfiles()) - s3Before
    expect(moved).toBeGreaterThan(0)
    expect(moved).toBeLessThanOrEqual(added * 1.2)

    const here = (await env.plakar.jsonLines<{id: string}>(env.at('ls'))).map((s) => s.id)
    const there = (await env.plakar.jsonLines<{id: string}>(['at', ...s3, ...s3Options, 'ls'])).map((s) => s.id)
    expect(there).toEqual(here)
    const out = join(env.s.dir, 'from-s3')
    await env.plakar.ok(['at', ...s3, ...s3Options, 'restore', '--to', out, 'latest'])
    expect(await compareTrees(src, out)).toEqual([])
    await env.plakar.ok(['at', ...s3, ...s3Options, 'check'])
  })

  it('S3 → SFTP peer, both sides remote: same snapshots, bit-exact restore', async () => {
    const sftp = sftpRepo('sync-peer')
    const sftpAt = ['at', sftp.location, ...sftp.options.flatMap((o) => ['-o', o])]
    await env.plakar.ok([...sftpAt, 'create', '--from', s3[0], '--peer-option', 'use_tls=false', '--peer-keyfile', await keyfile(env)], {env: {}})
    const result = await env.plakar.json<SyncJson>(['at', ...s3, ...s3Options, 'sync', ...sftp.options.flatMap((o) => ['--peer-option', o]), 'to', sftp.location])
    expect(result.directions[0].method).toBe('copy')
    expect(result.directions[0].copies).toHaveLength(2)
    expect(sum(await packfiles(sftp.local))).toBe(sum(await s3Packfiles()))
    const out = join(env.s.dir, 'from-sftp')
    await env.plakar.ok([...sftpAt, 'restore', '--to', out, 'latest'])
    expect(await compareTrees(src, out)).toEqual([])
    await env.plakar.ok([...sftpAt, 'check'])
  })

  it('fs → SFTP with another passphrase re-encodes, keeps ids, restores bit-exact', async () => {
    const sftp = sftpRepo('sync-reencode')
    const other = {PLAKAR_PASSPHRASE: 'the other passphrase'}
    const sftpAt = ['at', sftp.location, ...sftp.options.flatMap((o) => ['-o', o])]
    await env.plakar.ok([...sftpAt, 'create'], {env: other})
    const result = await env.plakar.json<SyncJson>(env.at('sync', ...sftp.options.flatMap((o) => ['--peer-option', o]), 'to', sftp.location), {
      env: {PLAKAR_PEER_PASSPHRASE: other.PLAKAR_PASSPHRASE},
    })
    expect(result.directions[0].method).toBe('re-encode')
    const here = (await env.plakar.jsonLines<{id: string}>(env.at('ls'))).map((s) => s.id)
    const there = (await env.plakar.jsonLines<{id: string}>([...sftpAt, 'ls'], {env: other})).map((s) => s.id)
    expect(there).toEqual(here)
    const out = join(env.s.dir, 'from-sftp-reencoded')
    await env.plakar.ok([...sftpAt, 'restore', '--to', out, 'latest'], {env: other})
    expect(await compareTrees(src, out)).toEqual([])
    await env.plakar.ok([...sftpAt, 'check'], {env: other})
  })
})

/** The test passphrase in a file (--peer-keyfile). */
async function keyfile(env: Env): Promise<string> {
  const {writeFile} = await import('node:fs/promises')
  const path = join(env.s.dir, 'peer.key')
  await writeFile(path, `${env.plakar.env.PLAKAR_PASSPHRASE}\n`, {mode: 0o600})
  return path
}

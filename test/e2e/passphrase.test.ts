/**
 * plakar passphrase: the key is re-wrapped, nothing else is rewritten, the old passphrase stops
 * working; killed with SIGKILL at any moment (the instant its temporary config appears, or a
 * random moment of its run), exactly one of the two passphrases opens the repository, and the
 * data stays whole. Also on SQLite, S3 (radosgw) and SFTP (sshd).
 */
import {execa} from 'execa'
import {randomBytes} from 'node:crypto'
import {watch} from 'node:fs'
import {readdir, readFile, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {accessKey, hostPort, secretKey, uniqueName} from '../../plugins/s3/test/s3.js'
import {BIN} from '../support/cli.js'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {expectOneLineError, setup, userPlakar} from './helpers.js'

const only = process.env.PLAKAR_TEST_SERVICES
const wants = (service: string) => only === undefined || only === 'all' || only.split(',').includes(service)
const sftp = process.env.SFTP_PORT
  ? {port: process.env.SFTP_PORT, user: process.env.SFTP_USER ?? 'root', root: process.env.SFTP_ROOT!, key: process.env.SFTP_KEY!, knownHosts: process.env.SFTP_KNOWN_HOSTS!}
  : undefined
/** Cheap Argon2id for the rounds (the first change uses the defaults). */
const CHEAP = ['--kdf-memory', '8192', '--kdf-iterations', '1']

describe('plakar passphrase', () => {
  const env = setup('plakar-passphrase-')
  const plakar = userPlakar(env.s.dir, {
    SSH_AUTH_SOCK: undefined as unknown as string,
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_REGION: 'us-east-1',
  })
  const src = join(env.s.dir, 'src')
  beforeAll(async () => {
    const b = new TreeBuilder(src)
    await b.file('notes.txt', 'kept through every passphrase\n')
    await b.randomFile('data.bin', 200 * 1024)
    await b.finish()
  })
  afterAll(() => env.s.cleanup())

  const as = (passphrase: string, extra: Record<string, string> = {}) => ({env: {PLAKAR_PASSPHRASE: passphrase, ...extra}})
  /** Which of the passphrases open the repository (ls exits 0; a wrong one exits 77). */
  async function opening(at: string[], candidates: string[]): Promise<string[]> {
    const works: string[] = []
    for (const p of candidates) {
      const r = await plakar.run([...at, 'ls'], as(p))
      if (r.exitCode === 0) works.push(p)
      else expectOneLineError(r, 77, /wrong passphrase/)
    }
    return works
  }
  async function expectWhole(at: string[], passphrase: string): Promise<void> {
    const out = join(env.s.dir, `out-${randomBytes(4).toString('hex')}`)
    await plakar.ok([...at, 'restore', '--to', out], as(passphrase))
    expect(await compareTrees(src, out)).toEqual([])
    await plakar.ok([...at, 'check'], as(passphrase))
  }

  it('re-wraps the key without rewriting data: the old passphrase stops working, the new one opens everything', async () => {
    const repo = join(env.s.dir, 'plain-change')
    const at = ['at', repo]
    await plakar.ok([...at, 'create'], as('old one'))
    await plakar.ok([...at, 'backup', '-q', src], as('old one'))
    const objects = async () => (await readdir(repo, {recursive: true})).filter((n) => n !== 'CONFIG').sort()
    const before = await objects()
    const [change] = await plakar.jsonLines<{location: string; kdf: {algorithm: string; memory: number; iterations: number; parallelism: number}}>(
      [...at, 'passphrase', '--kdf-memory', '16384', '--kdf-iterations', '2'],
      as('old one', {PLAKAR_NEW_PASSPHRASE: 'new one'}),
    )
    expect(change).toEqual({location: repo, kdf: {algorithm: 'argon2id', memory: 16384, iterations: 2, parallelism: 2}})
    expect(await objects()).toEqual(before) // no packfile, state or lock was written or removed
    const config = await readFile(join(repo, 'CONFIG'))
    expect(config.includes(Buffer.from('new one')) || config.includes(Buffer.from('old one'))).toBe(false)
    expect(await opening(at, ['old one', 'new one'])).toEqual(['new one'])
    await expectWhole(at, 'new one')
    // A key file works for the new passphrase too, and text mode says what happened in one line.
    const keyfile = join(env.s.dir, 'new-key')
    await writeFile(keyfile, 'from a file\n', {mode: 0o600})
    const r = await plakar.ok([...at, 'passphrase', '--new-keyfile', keyfile], as('new one'))
    expect(String(r.stderr)).toMatch(/^changed the passphrase of .* the old one no longer opens it\n$/)
    expect(String(r.stderr) + String(r.stdout)).not.toMatch(/from a file|new one/)
    expect(await opening(at, ['new one', 'from a file'])).toEqual(['from a file'])
  }, 300_000)

  it('mistakes: one line and the documented exit code, and the config is left alone', async () => {
    const repo = join(env.s.dir, 'mistakes')
    const at = ['at', repo]
    await plakar.ok([...at, 'create'], as('right'))
    const config = await readFile(join(repo, 'CONFIG'))
    expectOneLineError(await plakar.run([...at, 'passphrase'], as('wrong', {PLAKAR_NEW_PASSPHRASE: 'x'})), 77, /wrong passphrase/)
    expectOneLineError(await plakar.run([...at, 'passphrase'], as('right', {PLAKAR_NEW_PASSPHRASE: ''})), 2, /PLAKAR_NEW_PASSPHRASE is set but empty/)
    expectOneLineError(await plakar.run([...at, 'passphrase'], as('right')), 77, /new passphrase is needed: set PLAKAR_NEW_PASSPHRASE/)
    expectOneLineError(await plakar.run([...at, 'passphrase', '--kdf-memory', '10'], as('right', {PLAKAR_NEW_PASSPHRASE: 'x'})), 2, /Argon2id parameters out of range/)
    expectOneLineError(await plakar.run([...at, 'passphrase', '--new-keyfile', join(env.s.dir, 'nope')], as('right')), 2, /cannot read key file/)
    expect((await readFile(join(repo, 'CONFIG'))).equals(config)).toBe(true)
    expectOneLineError(await plakar.run(['at', join(env.s.dir, 'none'), 'passphrase'], as('right', {PLAKAR_NEW_PASSPHRASE: 'x'})), 66, /no repository/)
    const plain = join(env.s.dir, 'plaintext')
    await plakar.ok(['at', plain, 'create', '--plaintext'])
    expectOneLineError(await plakar.run(['at', plain, 'passphrase'], as('right', {PLAKAR_NEW_PASSPHRASE: 'x'})), 2, /not encrypted/)
  }, 300_000)

  /**
   * SIGKILL at 20 moments. Even rounds: the instant the new config's temporary file appears
   * (an fs watch event), while it is being written and synced. Odd rounds: a random moment of
   * the run, measured by an uninterrupted change first.
   */
  it('killed with SIGKILL at 20 moments (fs): exactly one of the two passphrases opens the repository, and the data is whole', async () => {
    const repo = join(env.s.dir, 'killed')
    const at = ['at', repo]
    await plakar.ok([...at, 'create'], as('p0'))
    await plakar.ok([...at, 'backup', '-q', src], as('p0'))
    const started = process.hrtime.bigint()
    await plakar.ok([...at, 'passphrase', ...CHEAP], as('p0', {PLAKAR_NEW_PASSPHRASE: 'p1'}))
    const runMs = Number(process.hrtime.bigint() - started) / 1e6
    let current = 'p1'
    const outcome = {old: 0, new: 0, killedAtTemp: 0}
    for (let round = 0; round < 20; round++) {
      const next = `p1-${round}`
      const proc = execa('node', [BIN, ...at, 'passphrase', ...CHEAP], {
        env: {...plakar.env, PLAKAR_PASSPHRASE: current, PLAKAR_NEW_PASSPHRASE: next},
        extendEnv: true,
        reject: false,
        cwd: plakar.home,
      })
      let watcher: ReturnType<typeof watch> | undefined
      if (round % 2 === 0) {
        watcher = watch(repo, (_event, name) => {
          if (name && /^CONFIG\..*\.tmp$/.test(String(name)) && proc.exitCode === null) {
            proc.kill('SIGKILL')
            watcher?.close()
          }
        })
      } else {
        await sleep(Math.random() * runMs)
        proc.kill('SIGKILL')
      }
      const ended = await proc
      watcher?.close()
      // The watch event reaches this process asynchronously: on a loaded machine the change may
      // write, rename and exit before the kill lands. Such a round is a completed change (checked
      // below like any other); enough rounds must still hit the temporary config.
      if (round % 2 === 0) {
        if (ended.signal === 'SIGKILL') outcome.killedAtTemp++
        else expect(ended.exitCode, `round ${round}: ${ended.stderr}`).toBe(0)
      }
      const works = await opening(at, [current, next])
      expect(works, `round ${round}: passphrases that open the repository`).toHaveLength(1)
      if (works[0] === next) outcome.new++
      else outcome.old++
      current = works[0]
    }
    console.log(`passphrase killed 20 times: old passphrase kept ${outcome.old}, new one in place ${outcome.new}, killed at the temporary config ${outcome.killedAtTemp}`)
    expect(outcome.killedAtTemp, 'rounds whose kill landed while the temporary config existed').toBeGreaterThanOrEqual(3)
    expect(outcome.old).toBeGreaterThan(0)
    await expectWhole(at, current)
    // The next change completes, and leftover temporary files do not disturb anything.
    await plakar.ok([...at, 'passphrase', ...CHEAP], as(current, {PLAKAR_NEW_PASSPHRASE: 'final'}))
    expect(await opening(at, [current, 'final'])).toEqual(['final'])
    expect((await stat(join(repo, 'CONFIG'))).size).toBeGreaterThan(0)
  }, 900_000)

  it('SQLite: killed with SIGKILL at 10 random moments, one of the two passphrases opens the repository', async () => {
    const at = ['at', `sqlite:${join(env.s.dir, 'killed.db')}`]
    await plakar.ok([...at, 'create'], as('q0'))
    await plakar.ok([...at, 'backup', '-q', src], as('q0'))
    const started = process.hrtime.bigint()
    await plakar.ok([...at, 'passphrase', ...CHEAP], as('q0', {PLAKAR_NEW_PASSPHRASE: 'q1'}))
    const runMs = Number(process.hrtime.bigint() - started) / 1e6
    let current = 'q1'
    for (let round = 0; round < 10; round++) {
      const next = `q1-${round}`
      const proc = execa('node', [BIN, ...at, 'passphrase', ...CHEAP], {
        env: {...plakar.env, PLAKAR_PASSPHRASE: current, PLAKAR_NEW_PASSPHRASE: next},
        extendEnv: true,
        reject: false,
        cwd: plakar.home,
      })
      await sleep(Math.random() * runMs)
      proc.kill('SIGKILL')
      await proc
      const works = await opening(at, [current, next])
      expect(works, `round ${round}`).toHaveLength(1)
      current = works[0]
    }
    await expectWhole(at, current)
  }, 900_000)

  const remotes: [string, boolean, () => string[]][] = [
    ['s3 (radosgw)', wants('radosgw'), () => [`s3://${hostPort}/${uniqueName('plakar-passphrase')}/repo`, '-o', 'use_tls=false']],
    [
      'sftp (sshd)',
      wants('sshd'),
      () => {
        if (!sftp) throw new Error('SFTP_PORT is not set: sshd did not start (see test/support/services/sshd.ts)')
        return [`sftp://${sftp.user}@127.0.0.1:${sftp.port}${sftp.root}/passphrase-${randomBytes(4).toString('hex')}`, '-o', `identity=${sftp.key}`, '-o', `known_hosts=${sftp.knownHosts}`]
      },
    ],
  ]
  for (const [name, enabled, location] of remotes) {
    it.skipIf(!enabled)(`${name}: the old passphrase stops working, the new one restores bit-exact`, async () => {
      const at = ['at', ...location()]
      await plakar.ok([...at, 'create'], as('remote old'))
      await plakar.ok([...at, 'backup', '-q', src], as('remote old'))
      await plakar.ok([...at, 'passphrase', ...CHEAP], as('remote old', {PLAKAR_NEW_PASSPHRASE: 'remote new'}))
      expect(await opening(at, ['remote old', 'remote new'])).toEqual(['remote new'])
      await expectWhole(at, 'remote new')
    }, 300_000)
  }
})

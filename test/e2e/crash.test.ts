/**
 * kill -9 in the middle of a backup (after packfiles, and a state listing some of them, were
 * written) leaves a repository that `check` accepts; the next backup completes, reuses what was
 * published before the crash, and restores bit-exact.
 */
import {execa} from 'execa'
import {setTimeout as sleep} from 'node:timers/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {compareTrees, diskUsage, packfiles, stateFiles, TreeBuilder} from '../support/tree.js'
import {backup, setup} from './helpers.js'

const MiB = 1024 * 1024
const FILES = 20
const FILE_SIZE = 16 * MiB

describe('a backup killed with SIGKILL', () => {
  const env = setup('plakar-crash-')
  const src = join(env.s.dir, 'src')
  const total = FILES * FILE_SIZE + 4

  beforeAll(async () => {
    const b = new TreeBuilder(src)
    await b.file('small/first.txt', 'backed up before the crash\n')
    for (let i = 0; i < FILES; i++) await b.randomFile(`big/file-${String(i).padStart(2, '0')}.bin`, FILE_SIZE + (i === 0 ? 4 : 0))
    await b.finish()
    await env.plakar.ok(env.at('create'))
    // A snapshot from before the crash, for check to verify.
    await backup(env, [join(src, 'small')])
  })
  afterAll(() => env.s.cleanup())

  it('leaves a repository that check accepts and that the next backup completes and reuses', async () => {
    const statesBefore = (await stateFiles(env.repo)).length
    const packsBefore = (await packfiles(env.repo)).length
    const proc = execa('node', [BIN, 'at', env.repo, 'backup', '--json', src], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home})
    // Kill once a state listing some of its packfiles is published, well before the end.
    let published = false
    for (let waited = 0; waited < 120_000 && proc.exitCode === null; waited += 10) {
      if ((await stateFiles(env.repo)).length > statesBefore && (await packfiles(env.repo)).length > packsBefore) {
        published = true
        break
      }
      await sleep(10)
    }
    proc.kill('SIGKILL')
    const killed = await proc
    expect(published, 'no state was published before the backup ended').toBe(true)
    expect(killed.signal, `the backup ended on its own: ${killed.stderr}`).toBe('SIGKILL')
    const afterCrash = await diskUsage(env.repo)
    expect(afterCrash.bytes).toBeLessThan(total) // it really was interrupted

    // check accepts the repository (the crashed backup left no snapshot, and nothing damaged).
    const check = await env.plakar.run(env.at('check'))
    expect(check.exitCode, String(check.stderr)).toBe(0)
    expect((await env.plakar.jsonLines(env.at('ls'))).length).toBe(1)

    // The next backup completes, and adds much less than everything: what was published is reused.
    const next = await backup(env, [src])
    expect(next.files).toBe(FILES + 1)
    const published_ = 48 * MiB // a state is published every 4 packfiles of ~16 MiB
    expect(next.addedBytes, `added ${next.addedBytes} of ${total}`).toBeLessThan(total - published_)

    const out = join(env.s.dir, 'out')
    await env.plakar.ok(env.at('restore', '--to', out, next.id))
    expect(await compareTrees(src, out)).toEqual([])
    const after = await env.plakar.run(env.at('check'))
    expect(after.exitCode, String(after.stderr)).toBe(0)
  })
})

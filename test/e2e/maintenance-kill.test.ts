/**
 * plakar maintenance killed with SIGKILL (a real kill -9 of the CLI process) in each of its
 * destructive phases: while it repacks (the first new packfile appears), while it deletes
 * packfiles (the first one vanishes), and while it compacts (the first old state vanishes).
 * After each kill the repository passes check, the kept snapshot restores bit-exact, the next
 * backup and the next maintenance complete, and check passes again. The moments are events of
 * the repository directory (fs.watch); six more kills fall at random moments of the run.
 */
import {execa} from 'execa'
import {randomBytes} from 'node:crypto'
import {existsSync, watch} from 'node:fs'
import {mkdir, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {compareTrees} from '../support/tree.js'
import {backup, setup} from './helpers.js'

type Phase = 'repack' | 'delete' | 'compact' | 'random'

describe('maintenance killed with SIGKILL', () => {
  const env = setup('plakar-maintenance-kill-')
  const src = join(env.s.dir, 'src')
  beforeAll(async () => {
    await mkdir(src, {recursive: true})
    await env.plakar.ok(env.at('create'))
  })
  afterAll(() => env.s.cleanup())

  /** New content: a unique large file (a data packfile of its own) and small files. */
  async function newVersion(round: number, v: number): Promise<void> {
    await writeFile(join(src, 'big.bin'), randomBytes(400 * 1024))
    for (let i = 0; i < 5; i++) await writeFile(join(src, `small-${i}.txt`), `round ${round} version ${v} file ${i} ${randomBytes(200).toString('hex')}\n`)
  }

  /** Ids of the packfiles or states in the repository directory. */
  const objects = async (dir: string) =>
    new Set((await readdir(join(env.repo, dir), {recursive: true})).map((n) => String(n).split('/').at(-1)!).filter((n) => /^[0-9a-f]{64}$/.test(n)))

  // 20 kills: 5 in the repack phase, 5 in the deletion phase, 4 in compaction, 6 at a random
  // moment of the run (within the duration of the previous uninterrupted maintenance).
  const phases: Phase[] = [
    ...Array.from({length: 5}, () => ['repack', 'delete', 'compact', 'random'] as Phase[]).flat().slice(0, 16),
    'random',
    'random',
    'repack',
    'delete',
  ]
  it(`is killed in the repack, delete and compaction phases and at random moments (${phases.length} rounds): check passes, nothing kept is lost, the next maintenance completes`, async () => {
    const seen: Record<Phase, number> = {repack: 0, delete: 0, compact: 0, random: 0}
    let interruptedAtRandom = 0
    let lastRunMs = 1000
    let round = 0
    for (const phase of phases) {
      // The last old state may vanish just before the process ends: a kill that arrives after
      // the end interrupted nothing, and the round is made again (at most twice more).
      for (let attempt = 0; ; attempt++) {
        round++
        // Three backups, two pruned: dead packfiles, small packfiles to merge, states to compact.
        for (let v = 0; v < 3; v++) {
          await newVersion(round, v)
          await backup(env, ['-q', src])
        }
        await env.plakar.ok(env.at('prune', '--keep-last', '1', '--apply'))
        const packsBefore = await objects('packfiles')
        const statesBefore = await objects('states')

        const proc = execa('node', [BIN, ...env.at('maintenance', '--grace', '0')], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home})
        let fired = false
        const fire = () => {
          if (fired || proc.exitCode !== null) return
          fired = true
          proc.kill('SIGKILL')
        }
        const watcher = watch(env.repo, {recursive: true}, (_event, name) => {
          const path = String(name ?? '')
          const base = path.split('/').at(-1) ?? ''
          if (phase === 'repack' && path.startsWith('packfiles/') && /^[0-9a-f]{64}/.test(base) && !packsBefore.has(base.slice(0, 64))) fire()
          if (phase === 'delete' && path.startsWith('packfiles/') && packsBefore.has(base) && !existsSync(join(env.repo, path))) fire()
          if (phase === 'compact' && path.startsWith('states/') && statesBefore.has(base) && !existsSync(join(env.repo, path))) fire()
        })
        if (phase === 'random') {
          await sleep(Math.random() * lastRunMs)
          fire()
        }
        const ended = await proc
        watcher.close()
        if (phase === 'random') {
          // A random moment may fall after the end: the round then checks an ended run.
          if (ended.signal === 'SIGKILL') interruptedAtRandom++
          seen.random++
          break
        }
        if (ended.signal !== 'SIGKILL' && attempt < 2 && phase === 'compact') continue
        expect(fired, `round ${round}: maintenance ended before its ${phase} phase: ${ended.stderr}`).toBe(true)
        expect(ended.signal, `round ${round} (${phase}): maintenance ended on its own: ${ended.stderr}`).toBe('SIGKILL')
        seen[phase]++
        break
      }

      // The repository checks, and the kept snapshot restores bit-exact.
      const check = await env.plakar.run(env.at('check'))
      expect(check.exitCode, `round ${round} (${phase}): check after the kill: ${check.stderr}`).toBe(0)
      const kept = await env.plakar.jsonLines<{id: string}>(env.at('ls'))
      expect(kept).toHaveLength(1)
      const out = join(env.s.dir, `out-${round}`)
      await env.plakar.ok(env.at('restore', '--to', out, kept[0].id))
      expect(await compareTrees(src, out)).toEqual([])

      // The next maintenance completes (the killed one's lock is stale: its process is gone).
      const started = process.hrtime.bigint()
      const next = await env.plakar.json<{waiting: number}>(env.at('maintenance', '--grace', '0'))
      lastRunMs = Number(process.hrtime.bigint() - started) / 1e6
      expect(next.waiting).toBe(0)
      const again = await env.plakar.run(env.at('check'))
      expect(again.exitCode, `round ${round} (${phase}): check after the next maintenance: ${again.stderr}`).toBe(0)
      const out2 = join(env.s.dir, `out-${round}-after`)
      await env.plakar.ok(env.at('restore', '--to', out2, kept[0].id))
      expect(await compareTrees(src, out2)).toEqual([])
    }
    console.log(`maintenance killed ${phases.length} times: ${JSON.stringify(seen)}, ${interruptedAtRandom} of the random moments fell inside the run`)
    expect(seen).toEqual({repack: 5, delete: 5, compact: 4, random: 6})
  }, 1_800_000)
})

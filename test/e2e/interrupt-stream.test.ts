/**
 * Ctrl-C (SIGINT) while a backup waits on a stream that gives nothing: tar: from a FIFO no
 * writer opened, tar: from a FIFO whose writer stalls in the middle of an entry, and tar:- and
 * stdin: from a pipe nobody writes to. Each stops promptly with the interruption notice and
 * exit code 130 (docs/commands/plakar.md, "Interrupting a command"), leaves no lock and a
 * repository that passes check. A blocking open() or read() of a FIFO would wait in libuv's
 * thread pool, where nothing cancels it, and the process could not even exit.
 */
import {execa, type ResultPromise} from 'execa'
import {execFileSync} from 'node:child_process'
import {createWriteStream, readdirSync} from 'node:fs'
import {join} from 'node:path'
import tar from 'tar-stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {setup, waitForFile} from './helpers.js'

describe('interrupting a backup that waits on a stream', () => {
  const env = setup('plakar-interrupt-stream-')
  beforeAll(async () => {
    await env.plakar.ok(env.at('create'))
  })
  afterAll(() => env.s.cleanup())

  const locks = () => readdirSync(join(env.repo, 'locks')).filter((f) => /^[0-9a-f]{64}$/.test(f))
  /** The backup has started: it holds its repository lock (its importer is open, its scan begins). */
  const locked = () => waitForFile(join(env.repo, 'locks'), () => locks().length > 0)

  function start(location: string, stdin: 'pipe' | 'ignore' = 'ignore'): ResultPromise {
    // --debug: a backup that did not unwind by itself, ended by the forced shutdown after the
    // grace period, says so (a process blocked in the thread pool would not even end then).
    return execa('node', [BIN, '--debug', ...env.at('backup', location)], {
      env: {...env.plakar.env, PLAKAR_PROGRESS_INTERVAL: '100'},
      extendEnv: true,
      reject: false,
      cwd: env.plakar.home,
      stdin,
      buffer: {stdout: true, stderr: true},
      forceKillAfterDelay: false,
    })
  }

  /** Resolves once the process printed a line matching `re` on stderr. */
  function printed(proc: ResultPromise, re: RegExp): Promise<void> {
    return new Promise((resolve) => {
      let seen = ''
      const onData = (chunk: Buffer) => {
        seen += chunk.toString()
        if (!re.test(seen)) return
        proc.stderr!.off('data', onData)
        resolve()
      }
      proc.stderr!.on('data', onData)
    })
  }

  /** SIGINT, then: exit 130 with the notice and the one-line error, no lock, a valid repository. */
  async function interruptAndCheck(proc: ResultPromise): Promise<void> {
    proc.kill('SIGINT')
    const r = await proc
    expect(r.exitCode, String(r.stderr)).toBe(130)
    expect(String(r.stderr)).toMatch(/plakar: interrupted: stopping \(press Ctrl-C again to quit at once\)\n(.*\n)*plakar: interrupted$/)
    expect(String(r.stderr)).not.toMatch(/did not unwind/)
    expect(String(r.stderr)).not.toMatch(/\n\s+at /)
    expect(locks()).toEqual([])
    expect(await env.plakar.jsonLines(env.at('ls'))).toEqual([])
    await env.plakar.ok(env.at('check', '--quiet'))
  }

  it('tar: from a FIFO that no writer opened', async () => {
    const fifo = join(env.s.dir, 'idle.fifo')
    execFileSync('mkfifo', [fifo])
    const proc = start(`tar:${fifo}`)
    await locked()
    await interruptAndCheck(proc)
  })

  it('tar: from a FIFO whose writer stalls in the middle of an entry', async () => {
    const fifo = join(env.s.dir, 'stalled.fifo')
    execFileSync('mkfifo', [fifo])
    const proc = start(`tar:${fifo}`)
    // The writer's open() returns once the backup has opened the FIFO to read it.
    const out = createWriteStream(fifo)
    await new Promise((resolve) => out.once('open', resolve))
    // One whole file, then the header of a second whose 64 KiB never all come.
    const pack = tar.pack()
    pack.entry({name: 'whole.txt'}, 'complete\n')
    const half = pack.entry({name: 'half.bin', size: 65536})
    half.write(Buffer.alloc(1000, 7))
    pack.pipe(out)
    await printed(proc, /plakar: backup, [1-9]\d* files?/)
    await interruptAndCheck(proc)
    out.destroy()
  })

  for (const location of ['tar:-', 'stdin:dump.sql']) {
    it(`${location} from a pipe nobody writes to`, async () => {
      const proc = start(location, 'pipe')
      await locked()
      await interruptAndCheck(proc)
      proc.stdin!.destroy()
    })
  }
})

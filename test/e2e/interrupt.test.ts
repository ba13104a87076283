/**
 * Interruption (docs/commands/plakar.md, "Interrupting a command"): Ctrl-C on a real terminal,
 * SIGTERM off one and a closed stdout pipe stop backup, restore and check within two seconds,
 * exit 130 / 143 / 141, release the repository lock and leave a repository that `check` passes.
 */
import {execa} from 'execa'
import {randomBytes} from 'node:crypto'
import {mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {Terminal} from '../support/terminal.js'
import {backup, setup} from './helpers.js'

/** What the requirement allows between the signal and the process's end, on an idle machine. */
const STOP_WITHIN_MS = 2000
/** `plakar version` on an idle machine of this class takes about this long. */
const IDLE_VERSION_MS = 400

/**
 * The bound, scaled by how loaded the machine is right now: a process that gets a tenth of a
 * CPU needs ten times longer for everything, stopping included. Load is measured, not guessed:
 * the wall time of `plakar version` now against an idle run.
 */
async function stopBound(env: {plakar: {ok: (args: string[]) => Promise<unknown>}}): Promise<number> {
  const started = Date.now()
  await env.plakar.ok(['version'])
  return STOP_WITHIN_MS * Math.max(1, (Date.now() - started) / IDLE_VERSION_MS)
}

describe('interrupting a command', () => {
  const env = setup('plakar-interrupt-')
  const src = join(env.s.dir, 'src')
  let id: string

  beforeAll(async () => {
    // Enough incompressible data that each command is still running when the signal comes
    // (the signal is sent as soon as the command shows progress, not after a delay).
    // Restore reports progress per file written and writes a few large files at once: with
    // many files, the first progress line comes when most of the work is still ahead (with 8
    // files all in flight, the others finished within milliseconds of the first, before Ctrl-C).
    mkdirSync(src)
    for (let i = 0; i < 32; i++) writeFileSync(join(src, `f${i}`), randomBytes(5 << 20))
    await env.plakar.ok(env.at('create'))
    id = (await backup(env, ['--quiet', src])).id
    // New bytes for the interrupted backup: unchanged files would go by too fast to interrupt.
    for (let i = 0; i < 8; i++) writeFileSync(join(src, `g${i}`), randomBytes(16 << 20))
  })
  afterAll(() => env.s.cleanup())

  const locks = () => readdirSync(join(env.repo, 'locks'))

  async function interruptOnTerminal(args: string[], progress: RegExp): Promise<Terminal> {
    const term = new Terminal(env.plakar, env.at(...args))
    await term.waitFor(progress)
    const sent = term.interrupt()
    const {code, at} = await term.exited
    expect(code, term.output).toBe(130)
    const bound = await stopBound(env)
    console.log(`${args[0]}: exit ${at - sent} ms after Ctrl-C (bound ${Math.round(bound)} ms)`)
    expect(at - sent, 'ms from Ctrl-C to exit').toBeLessThan(bound)
    expect(term.output).toMatch(/plakar: interrupted\r?\n/)
    // The terminal is given back: cursor shown again, no stack trace.
    expect(term.output).toContain('\u001b[?25h')
    expect(term.output).not.toMatch(/\n\s+at /)
    return term
  }

  it('Ctrl-C during a backup stops it, releases the lock, keeps the repository valid', async () => {
    const before = (await env.plakar.jsonLines(env.at('ls'))).length
    await interruptOnTerminal(['backup', src], /backup │ \d+\/\d+ files?/)
    expect(locks()).toEqual([])
    expect((await env.plakar.jsonLines(env.at('ls'))).length).toBe(before)
    await env.plakar.ok(env.at('check', '--quiet'))
  })

  it('Ctrl-C during a restore', async () => {
    await interruptOnTerminal(['restore', '--to', join(env.s.dir, 'restored'), id], /restore │ \d+\/\d+ files?/)
    expect(locks()).toEqual([])
  })

  it('Ctrl-C during a check', async () => {
    await interruptOnTerminal(['check'], /check: /)
    expect(locks()).toEqual([])
  })

  it('a second Ctrl-C quits at once', async () => {
    const term = new Terminal(env.plakar, env.at('check'))
    await term.waitFor(/check: /)
    term.interrupt()
    await term.waitFor(/stopping/)
    const sent = term.interrupt()
    const {code, at} = await term.exited
    expect(code).toBe(130)
    expect(at - sent).toBeLessThan(await stopBound(env))
  })

  it('SIGTERM off a terminal → 143, with a plain progress line before it', async () => {
    const proc = execa('node', [BIN, ...env.at('backup', src)], {
      env: {...env.plakar.env, PLAKAR_PROGRESS_INTERVAL: '100'},
      reject: false,
      cwd: env.plakar.home,
      buffer: {stdout: true, stderr: true},
    })
    // Off a terminal, progress is a plain line now and then (here every 100 ms).
    await new Promise<void>((resolve) => {
      let seen = ''
      proc.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        if (/plakar: backup, \d+ files?/.test(seen)) resolve()
      })
    })
    const sent = Date.now()
    proc.kill('SIGTERM')
    const r = await proc
    const took = Date.now() - sent
    expect(took).toBeLessThan(await stopBound(env))
    expect(r.exitCode, String(r.stderr)).toBe(143)
    expect(String(r.stderr)).toMatch(/plakar: terminated: stopping.*\nplakar: interrupted$/)
    expect(String(r.stderr)).not.toContain('\u001b[')
    expect(locks()).toEqual([])
    await env.plakar.ok(env.at('check', '--quiet'))
  })

  it('a closed pipe (plakar cat … | head -c 1) ends quietly with 141', async () => {
    const proc = execa('node', [BIN, ...env.at('cat', `${id}:f0`)], {env: env.plakar.env, reject: false, cwd: env.plakar.home, buffer: {stdout: false, stderr: true}})
    proc.stdout!.once('data', () => proc.stdout!.destroy())
    const r = await proc
    expect(r.exitCode, String(r.stderr)).toBe(141)
    expect(String(r.stderr)).toBe('')
  })
})

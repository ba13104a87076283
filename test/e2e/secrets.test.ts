/**
 * The command line may carry connector options with secrets (-o secret_access_key=…, sftp
 * passwords): a running plakar shows only "plakar" to ps. The passphrase never appears in any
 * output, --json included.
 */
import {execa} from 'execa'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {setup} from './helpers.js'

describe('secrets', () => {
  const env = setup('plakar-secrets-')
  const src = join(env.s.dir, 'src')

  beforeAll(async () => {
    mkdirSync(src, {recursive: true})
    writeFileSync(join(src, 'a.txt'), 'a\n')
    await env.plakar.ok(env.at('create'))
  })
  afterAll(() => env.s.cleanup())

  it('hides the command line of a running plakar from ps', async () => {
    // An ignore file that is a FIFO keeps the backup waiting until we write to it.
    const fifo = join(env.s.dir, 'ignore.fifo')
    execFileSync('mkfifo', [fifo])
    const proc = execa('node', [BIN, 'at', env.repo, 'backup', '--tag', 'token=s3cr3t-value', '--ignore-file', fifo, src], {
      env: env.plakar.env,
      extendEnv: true,
      reject: false,
    })
    let cmdline = ''
    // The title is set as the CLI starts; the FIFO keeps it running until we write to it, so
    // this waits as long as starting takes, however busy the machine.
    while (!cmdline.startsWith('plakar') && proc.exitCode === null) {
      await sleep(20)
      try {
        cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8')
      } catch {
        cmdline = ''
      }
    }
    writeFileSync(fifo, '*.tmp\n')
    const result = await proc
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect(cmdline.replaceAll('\0', ' ').trim()).toBe('plakar')
    expect(cmdline).not.toContain('s3cr3t')
  })

  it('never prints the passphrase, in text or JSON', async () => {
    const passphrase = env.plakar.env.PLAKAR_PASSPHRASE
    for (const args of [['ls'], ['ls', '--json'], ['info'], ['info', '--json'], ['check', '--json'], ['backup', '--json', src]]) {
      const r = await env.plakar.run(env.at(...args))
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      expect(`${r.stdout}${r.stderr}`).not.toContain(passphrase)
    }
    const wrong = await env.plakar.run(env.at('ls'), {env: {PLAKAR_PASSPHRASE: 'not-the-passphrase-xyz'}})
    expect(wrong.exitCode).toBe(77)
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('not-the-passphrase-xyz')
  })

  it('refuses a password in an sftp location at store add, and masks secrets everywhere a configuration shows', async () => {
    const refused = await env.plakar.run(['store', 'add', 'inurl', 'sftp://me:hunter2-in-url@127.0.0.1/srv'])
    expect(refused.exitCode).toBe(2)
    expect(`${refused.stdout}${refused.stderr}`).not.toContain('hunter2')
    expect(String(refused.stderr)).toMatch(/password/)
    expect((await env.plakar.run(['store', 'ls'])).stdout).not.toContain('inurl')

    // Secrets by schema (password of sftp) and by name (passwd, which no schema declares here).
    await env.plakar.ok(['store', 'add', 'remote', 'sftp://me@127.0.0.1/srv', 'password=hunter2-option'])
    for (const args of [['store', 'ls'], ['store', 'ls', '--json'], ['store', 'show', 'remote'], ['store', 'show', 'remote', '--json']]) {
      const r = await env.plakar.ok(args)
      expect(`${r.stdout}${r.stderr}`, args.join(' ')).not.toContain('hunter2')
    }
    const shown = await env.plakar.json<{options: Record<string, string>}>(['store', 'show', 'remote'])
    expect(shown.options.password).toBe('********')
    const revealed = await env.plakar.json<{options: Record<string, string>}>(['store', 'show', 'remote', '--secrets'])
    expect(revealed.options.password).toBe('hunter2-option')
  })

  it('records the command of a snapshot without secrets, passwd included', async () => {
    const {id: snapshot} = await env.plakar.json<{id: string}>(env.at('backup', '--tag', 'token=hunter2-d', '--tag=passwd=hunter2-e', src))
    const info = await env.plakar.run(env.at('info', '--json', snapshot))
    expect(info.exitCode, String(info.stderr)).toBe(0)
    const command = (JSON.parse(String(info.stdout)) as {command: string[]}).command
    expect(command.join(' ')).not.toContain('hunter2')
    expect(command).toEqual(expect.arrayContaining(['token=********', '--tag=passwd=********']))
  })
})

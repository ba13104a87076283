/**
 * Shell completion (issue 12) in a real bash: the script `plakar completion bash` prints is
 * sourced, and its function is called as bash calls it at a TAB (COMP_WORDS, COMP_CWORD). It
 * completes commands, subcommands, flags, named configurations and snapshot ids, and never asks
 * for a passphrase.
 */
import {execa} from 'execa'
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {backup, setup} from './helpers.js'

describe('plakar completion bash', () => {
  const env = setup('plakar-completion-')
  const bin = join(env.s.dir, 'bin')
  let id: string

  beforeAll(async () => {
    // `plakar` on the PATH, as installed.
    mkdirSync(bin)
    writeFileSync(join(bin, 'plakar'), `#!/bin/sh\nexec node ${BIN} "$@"\n`)
    chmodSync(join(bin, 'plakar'), 0o755)
    const src = join(env.s.dir, 'src')
    mkdirSync(src)
    writeFileSync(join(src, 'a.txt'), 'a\n')
    await env.plakar.ok(env.at('create'))
    id = (await backup(env, ['--quiet', src])).id
    await env.plakar.ok(['store', 'add', 'home', env.repo])
    await env.plakar.ok(['source', 'add', 'documents', src])
  })
  afterAll(() => env.s.cleanup())

  /** What bash offers for `plakar WORDS…` with the cursor at the end of the last word. */
  async function tab(words: string[], extraEnv: Record<string, string | undefined> = {}): Promise<string[]> {
    const line = ['plakar', ...words]
    const script = [
      'source <(plakar completion bash)',
      `COMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${line.length - 1}`,
      '_plakar_complete',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n')
    const r = await execa('bash', ['-c', script], {
      env: {...env.plakar.env, PATH: `${bin}:${process.env.PATH}`, ...extraEnv},
      extendEnv: true,
      stdin: 'ignore',
    })
    return String(r.stdout).split('\n').filter((l) => l !== '')
  }

  it('completes commands, subcommands and flags', async () => {
    expect(await tab(['st'])).toEqual(['store'])
    expect(await tab(['store', 's'])).toEqual(['show'])
    expect(await tab(['ls', '--rec'])).toEqual(['--recursive'])
    expect(await tab([''])).toEqual(expect.arrayContaining(['backup', 'restore', 'at', 'completion']))
  })

  it('completes named configurations', async () => {
    expect(await tab(['at', ''])).toEqual(['@home'])
    expect(await tab(['backup', ''])).toEqual(['@documents'])
    expect(await tab(['store', 'show', ''])).toEqual(['home'])
  })

  it('completes snapshot ids of the repository named by at (a store or a path)', async () => {
    expect(await tab(['at', '@home', 'ls', ''])).toEqual([id.slice(0, 8), 'latest'])
    expect(await tab(['at', env.repo, 'restore', id.slice(0, 3)])).toEqual([id.slice(0, 8)])
  })

  it('never asks for a passphrase: without one, no snapshot ids', async () => {
    expect(await tab(['at', '@home', 'ls', ''], {PLAKAR_PASSPHRASE: undefined})).toEqual(['latest'])
  })

  it('an unknown shell is a usage error', async () => {
    const r = await env.plakar.run(['completion', 'fish'])
    expect(r.exitCode).toBe(2)
    expect(String(r.stderr).trim()).toBe('plakar: no completion for "fish": give bash or zsh')
  })
})

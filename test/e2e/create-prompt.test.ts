/**
 * `plakar create` says that a lost passphrase means lost data, and its prompt names the
 * repository (docs/commands/create.md).
 */
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {Terminal} from '../support/terminal.js'
import {setup} from './helpers.js'

describe('create', () => {
  const env = setup('plakar-create-')
  afterAll(() => env.s.cleanup())

  it('on a terminal: warns before the prompt, and the prompt names the repository', async () => {
    const repo = join(env.s.dir, 'prompted')
    const term = new Terminal(env.plakar, ['at', repo, 'create'], {env: {PLAKAR_PASSPHRASE: undefined}, columns: 200})
    await term.waitFor(/new passphrase for \S*prompted:/)
    expect(term.output).toMatch(/keep the passphrase safe: it cannot be recovered[^\n]*\n[\s\S]*new passphrase for/)
    term.type('a long and secret passphrase\r')
    await term.waitFor(/new passphrase for \S*prompted \(again\):/)
    term.type('a long and secret passphrase\r')
    const {code} = await term.exited
    expect(code, term.output).toBe(0)
    expect(term.output).toMatch(/created encrypted repository [0-9a-f]{8} at \S*prompted/)
    // Said once.
    expect(term.output.match(/keep the passphrase safe/g)).toHaveLength(1)
  })

  it('off a terminal: the warning follows the summary; not with --quiet, --json or --plaintext', async () => {
    const r = await env.plakar.ok(['at', join(env.s.dir, 'plain'), 'create'])
    expect(String(r.stderr)).toMatch(/^created encrypted repository [0-9a-f]{8} at .*\nplakar: keep the passphrase safe: .*data in this repository is lost\n$/)
    const q = await env.plakar.ok(['at', join(env.s.dir, 'quiet'), 'create', '--quiet'])
    expect(String(q.stderr)).toBe('')
    const j = await env.plakar.ok(['at', join(env.s.dir, 'json'), 'create', '--json'])
    expect(String(j.stderr)).toBe('')
    const p = await env.plakar.ok(['at', join(env.s.dir, 'clear'), 'create', '--plaintext'])
    expect(String(p.stderr)).not.toContain('passphrase')
  })
})

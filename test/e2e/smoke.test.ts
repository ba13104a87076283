import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {Plakar, scratch} from '../support/cli.js'

describe('create, backup, restore on a local repository', () => {
  const s = scratch()
  let plakar: Plakar
  let repo: string
  let src: string

  beforeAll(async () => {
    plakar = new Plakar(s.dir)
    repo = join(s.dir, 'repo')
    src = join(s.dir, 'src')
    mkdirSync(join(src, 'sub'), {recursive: true})
    writeFileSync(join(src, 'hello.txt'), 'hello, world\n')
    writeFileSync(join(src, 'sub', 'data.bin'), Buffer.alloc(300_000, 7))
    await plakar.ok(['at', repo, 'create'])
  })
  afterAll(() => s.cleanup())

  it('backs up and restores bit-exact', async () => {
    const {id: snapshot} = await plakar.json<{id: string}>(['at', repo, 'backup', src])
    expect(snapshot).toMatch(/^[0-9a-f]{64}$/)
    const out = join(s.dir, 'out')
    await plakar.ok(['at', repo, 'restore', '--to', out, snapshot.slice(0, 10)])
    expect(readFileSync(join(out, 'hello.txt'), 'utf8')).toBe('hello, world\n')
    expect(readFileSync(join(out, 'sub', 'data.bin')).equals(Buffer.alloc(300_000, 7))).toBe(true)
  })

  it('answers a wrong passphrase with exit code 77 and one line', async () => {
    const r = await plakar.run(['at', repo, 'ls'], {env: {PLAKAR_PASSPHRASE: 'wrong'}})
    expect(r.exitCode).toBe(77)
    expect(String(r.stderr).trim().split('\n')).toHaveLength(1)
  })
})

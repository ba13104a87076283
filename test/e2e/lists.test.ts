/**
 * Lists people read at a glance (docs/commands/ls.md, store-ls.md): a header, aligned columns,
 * local times to the second (UTC with --utc), the host; names with a newline or other control
 * characters printed escaped, one entry per line; the default store marked; "1 file", not
 * "1 files".
 */
import {writeFileSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {backup, setup} from './helpers.js'

describe('lists', () => {
  const env = setup('plakar-lists-')
  const src = join(env.s.dir, 'src')
  let id: string

  beforeAll(async () => {
    await mkdir(src)
    writeFileSync(join(src, 'new\nline.txt'), 'x')
    writeFileSync(join(src, 'esc\u001b[31mred'), 'y')
    writeFileSync(join(src, 'back\\slash'), 'z')
    await env.plakar.ok(env.at('create'))
    id = (await backup(env, ['--tag', 'daily', src])).id
  })
  afterAll(() => env.s.cleanup())

  it('ls: a header, aligned columns, local time without milliseconds, the host', async () => {
    const r = await env.plakar.ok(env.at('ls'), {env: {TZ: 'Asia/Kolkata'}})
    const lines = String(r.stdout).trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+TIME\s+HOST\s+SIZE\s+FILES\s+SOURCE$/)
    expect(lines).toHaveLength(2)
    const [snap] = await env.plakar.jsonLines<{time: string; host: string}>(env.at('ls'))
    // Local time of the zone (+05:30, no daylight saving), to the second.
    const local = new Date(new Date(snap.time).getTime() + 5.5 * 3600_000).toISOString().slice(0, 19).replace('T', ' ')
    expect(lines[1]).toContain(`${id.slice(0, 8)}  ${local}  ${snap.host}`)
    expect(lines[1]).toMatch(new RegExp(`${src.replaceAll('/', '\\/')} \\[daily\\]$`))
    // Columns line up: every header word starts where its column starts.
    expect(lines[1].indexOf(snap.host)).toBe(lines[0].indexOf('HOST'))
    const utc = await env.plakar.ok(env.at('ls', '--utc'), {env: {TZ: 'Asia/Kolkata'}})
    expect(String(utc.stdout)).toContain(`${snap.time.slice(0, 19).replace('T', ' ')}Z`)
  })

  it('ls of a directory prints odd names escaped, one entry per line; --json exactly', async () => {
    const r = await env.plakar.ok(env.at('ls', `${id}:${src}`))
    const lines = String(r.stdout).trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines.map((l) => l.slice(l.lastIndexOf(' ') + 1)).sort()).toEqual(['back\\\\slash', 'esc\\x1b[31mred', 'new\\nline.txt'].sort())
    expect(String(r.stdout)).not.toContain('\u001b')
    const json = await env.plakar.jsonLines<{path: string}>(env.at('ls', `${id}:${src}`))
    expect(json.map((e) => e.path).sort()).toEqual([join(src, 'back\\slash'), join(src, 'esc\u001b[31mred'), join(src, 'new\nline.txt')].sort())
    const found = await env.plakar.ok(env.at('locate', 'new*'))
    expect(String(found.stdout)).toBe(`${id.slice(0, 8)}:${join(src, 'new\\nline.txt')}\n`)
  })

  it('store ls marks the default store; --json says which', async () => {
    await env.plakar.ok(['store', 'add', 'main', env.repo, '--default'])
    await env.plakar.ok(['store', 'add', 'other', join(env.s.dir, 'elsewhere')])
    const r = await env.plakar.ok(['store', 'ls'])
    expect(String(r.stdout).split('\n').slice(0, 3)).toEqual([
      '   NAME    LOCATION',
      `*  @main   ${env.repo}`,
      `   @other  ${join(env.s.dir, 'elsewhere')}`,
    ])
    const json = await env.plakar.jsonLines<{name: string; default: boolean}>(['store', 'ls'])
    expect(json.map((s) => [s.name, s.default])).toEqual([['main', true], ['other', false]])
  })

  it('diff prints absolute paths like locate, and has --name-only and --stat', async () => {
    writeFileSync(join(src, 'new\nline.txt'), 'x\ny\n')
    writeFileSync(join(src, 'added.txt'), 'one\n')
    const second = (await backup(env, [src])).id
    const plain = String((await env.plakar.ok(env.at('diff', id, second))).stdout)
    expect(plain).toContain(`+ ${join(src, 'added.txt')}\n`)
    expect(plain).toContain(`~ ${join(src, 'new\\nline.txt')}\n`)
    const names = String((await env.plakar.ok(env.at('diff', '--name-only', id, second))).stdout)
    expect(names.trimEnd().split('\n').sort()).toEqual([join(src, 'added.txt'), join(src, 'new\\nline.txt')].sort())
    const stat = String((await env.plakar.ok(env.at('diff', '--stat', id, second))).stdout)
    expect(stat).toContain(`${join(src, 'added.txt')} | 1 +\n`)
    expect(stat).toContain(`${join(src, 'new\\nline.txt')} | 3 ++-\n`)
    expect(stat).toMatch(/2 files changed, 3 insertions\(\+\), 1 deletion\(-\)\n$/)
    const json = await env.plakar.jsonLines<{path: string}>(env.at('diff', id, second))
    const located = await env.plakar.jsonLines<{path: string}>(env.at('locate', 'added.txt'))
    expect(json.map((c) => c.path)).toContain(located[0].path)
  })

  it('says "1 snapshot", "1 file"', async () => {
    const r = await env.plakar.ok(env.at('check', id))
    expect(String(r.stderr)).toMatch(/^ok: 1 snapshot, 3 files/)
  })
})

/**
 * Snapshot selection through the CLI: one vocabulary (latest, latest~N, id prefixes, REF:PATH,
 * --since/--before/--tag/--host/--path/--name) in ls, restore, cat, diff, check, locate, rm,
 * tag; backup --name; tag edits; rm's dry-run plan.
 */
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TreeBuilder} from '../support/tree.js'
import {backup, expectOneLineError, setup} from './helpers.js'

interface LsSnapshot {
  id: string
  host: string
  user: string
  name: string | null
  tags: string[]
  importer: {root: string}
}

describe('snapshot selection', () => {
  const env = setup('plakar-selection-')
  const www = join(env.s.dir, 'www')
  const etc = join(env.s.dir, 'etc')
  const ids: string[] = []

  beforeAll(async () => {
    const a = new TreeBuilder(www)
    await a.file('index.html', 'v1\n')
    await a.finish()
    const b = new TreeBuilder(etc)
    await b.file('hosts', '127.0.0.1 localhost\n')
    await b.finish()
    await env.plakar.ok(env.at('create'))
    ids.push((await backup(env, ['--name', 'www', '--tag', 'daily', www])).id)
    ids.push((await backup(env, ['--tag', 'daily', etc])).id)
    await writeFile(join(www, 'index.html'), 'v2\n')
    ids.push((await backup(env, ['--name', 'www', '--tag', 'weekly', www])).id)
  })
  afterAll(() => env.s.cleanup())

  const ls = (...args: string[]) => env.plakar.jsonLines<LsSnapshot>(env.at('ls', ...args)).then((r) => r.map((s) => ids.indexOf(s.id)))

  it('ls: snapshots record host, user and name; filters combine', async () => {
    const all = await env.plakar.jsonLines<LsSnapshot>(env.at('ls'))
    expect(all.map((s) => s.name)).toEqual(['www', null, 'www'])
    expect(all[0].host).not.toBe('')
    expect(all[0].user).not.toBe('')
    expect(await ls('--name', 'www')).toEqual([0, 2])
    expect(await ls('--name', 'www', '--tag', 'daily')).toEqual([0])
    expect(await ls('--path', etc)).toEqual([1])
    expect(await ls('--path', env.s.dir)).toEqual([0, 1, 2])
    expect(await ls('--host', all[0].host, '--since', '1h', '--tag', 'daily')).toEqual([0, 1])
    expect(await ls('--host', 'elsewhere')).toEqual([])
    expect(await ls('--before', '2000-01-01')).toEqual([])
  })

  it('restore, cat, diff and ls take latest, latest~N and REF:PATH, resolved among the filtered snapshots', async () => {
    expect(String((await env.plakar.ok(env.at('cat', '--name', 'www', 'latest:index.html'))).stdout)).toBe('v2\n')
    expect(String((await env.plakar.ok(env.at('cat', '--name', 'www', 'latest~1:index.html'))).stdout)).toBe('v1\n')
    expect(String((await env.plakar.ok(env.at('cat', `${ids[1].slice(0, 10)}:hosts`))).stdout)).toContain('localhost')
    const out = join(env.s.dir, 'out')
    await env.plakar.ok(env.at('restore', '--to', out, '--tag', 'daily', '--path', www))
    expect(await readFile(join(out, 'index.html'), 'utf8')).toBe('v1\n')
    const diff = String((await env.plakar.ok(env.at('diff', '--name', 'www', 'latest~1', 'latest'))).stdout)
    expect(diff).toContain(`~ ${join(www, 'index.html')}`)
    const entries = await env.plakar.jsonLines<{path: string}>(env.at('ls', ':'))
    expect(entries.map((e) => e.path)).toEqual([join(www, 'index.html')])
  })

  it('check and locate select with filters', async () => {
    const checked = await env.plakar.jsonLines<{ok: boolean; snapshots: number}>(env.at('check', '--fast', '--name', 'www'))
    expect(checked[0]).toMatchObject({ok: true, snapshots: 2})
    const found = await env.plakar.jsonLines<{snapshot: string}>(env.at('locate', '--tag', 'daily', 'index.*'))
    expect(found.map((f) => f.snapshot)).toEqual([ids[0]])
    const latest = await env.plakar.jsonLines<{snapshot: string}>(env.at('locate', '--snapshot', 'latest', '*'))
    expect(new Set(latest.map((f) => f.snapshot))).toEqual(new Set([ids[2]]))
  })

  it('selection mistakes: one line and the documented exit code', async () => {
    expectOneLineError(await env.plakar.run(env.at('ls', '--since', 'yesterday')), 2, /--since: "yesterday" is not a date/)
    expectOneLineError(await env.plakar.run(env.at('ls', '--before', '7 days')), 2)
    expectOneLineError(await env.plakar.run(env.at('cat', '--host', 'elsewhere', 'latest:index.html')), 66, /no snapshot matching the filters/)
    expectOneLineError(await env.plakar.run(env.at('cat', `${ids[1].slice(0, 10)}:hosts`, '--name', 'www')), 66)
    expectOneLineError(await env.plakar.run(env.at('restore', '--to', join(env.s.dir, 'x'), 'latest~7')), 66, /only 3 snapshots/)
    expectOneLineError(await env.plakar.run(env.at('ls', 'nothex')), 2)
    expectOneLineError(await env.plakar.run(env.at('backup', '--name', '', www)), 2, /--name/)
  })

  it('tag edits change what --tag selects; rm shows its plan and deletes only with --apply', async () => {
    const tagged = await env.plakar.jsonLines<{changed: {id: string; after: string[]}[]}>(env.at('tag', '--add', 'keep', '--remove', 'daily', '--name', 'www'))
    expect(tagged[0].changed.map((c) => c.id)).toEqual([ids[0], ids[2]])
    expect(await ls('--tag', 'keep')).toEqual([0, 2])
    expect(await ls('--tag', 'daily')).toEqual([1])
    expectOneLineError(await env.plakar.run(env.at('tag', 'latest')), 2, /--add/)

    const plan = await env.plakar.jsonLines<{dryRun: boolean; remove: {id: string}[]}>(env.at('rm', '--tag', 'keep'))
    expect(plan[0]).toMatchObject({dryRun: true})
    expect(plan[0].remove.map((r) => r.id)).toEqual([ids[0], ids[2]])
    const text = await env.plakar.ok(env.at('rm', 'latest~2'))
    expect(String(text.stdout)).toMatch(new RegExp(`^would delete  ${ids[0].slice(0, 8)}`))
    expect(await ls()).toEqual([0, 1, 2])
    expectOneLineError(await env.plakar.run(env.at('rm')), 2)
    const done = await env.plakar.jsonLines<{dryRun: boolean; remove: {id: string}[]}>(env.at('rm', '--apply', '--tag', 'keep', 'latest'))
    expect(done[0]).toMatchObject({dryRun: false, remove: [{id: ids[2]}]})
    expect(await ls()).toEqual([0, 1])
  })
})

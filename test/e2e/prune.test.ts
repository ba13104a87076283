/**
 * prune: retention rules over the CLI, the plan it prints, --apply, named policies
 * (policy add/ls/rm, prune --policy), and its usage errors.
 */
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TreeBuilder} from '../support/tree.js'
import {backup, expectOneLineError, setup} from './helpers.js'

interface Plan {
  dryRun: boolean
  policy: string
  keep: {id: string; group: string; reasons: string[]}[]
  remove: {id: string}[]
}

describe('prune and retention policies', () => {
  const env = setup('plakar-prune-')
  const src = join(env.s.dir, 'src')
  const other = join(env.s.dir, 'other')
  const ids: string[] = []

  beforeAll(async () => {
    const a = new TreeBuilder(src)
    await a.file('f', 'v0\n')
    await a.finish()
    const b = new TreeBuilder(other)
    await b.file('g', 'other\n')
    await b.finish()
    await env.plakar.ok(env.at('create'))
    for (let i = 0; i < 4; i++) {
      await writeFile(join(src, 'f'), `v${i}\n`)
      ids.push((await backup(env, [...(i === 0 ? ['--tag', 'keep'] : []), src])).id)
    }
    ids.push((await backup(env, [other])).id)
  })
  afterAll(() => env.s.cleanup())

  const live = async () => (await env.plakar.jsonLines<{id: string}>(env.at('ls'))).map((s) => ids.indexOf(s.id))

  it('prints the plan per group, with reasons, and changes nothing without --apply', async () => {
    const [plan] = await env.plakar.jsonLines<Plan>(env.at('prune', '--keep-last', '1', '--keep-tag', 'keep'))
    expect(plan.dryRun).toBe(true)
    expect(plan.keep.map((k) => [ids.indexOf(k.id), k.reasons])).toEqual([
      [3, ['last']],
      [0, ['tag keep']],
      [4, ['last']],
    ])
    expect(plan.remove.map((r) => ids.indexOf(r.id))).toEqual([2, 1])
    expect(plan.keep[0].group).toBe(`host=${plan.keep[0].group.split(' ')[0].slice(5)} path=${src}`)
    const text = String((await env.plakar.ok(env.at('prune', '--keep-last', '1'))).stdout)
    expect(text).toContain(`path=${src}:`)
    expect(text).toMatch(new RegExp(`keep    ${ids[3].slice(0, 8)} .*\\(last\\)`))
    expect(text).toMatch(new RegExp(`go      ${ids[0].slice(0, 8)}`))
    expect(await live()).toEqual([0, 1, 2, 3, 4])
  })

  it('filters restrict what prune considers; --group-by changes the groups', async () => {
    const [plan] = await env.plakar.jsonLines<Plan>(env.at('prune', '--keep-last', '1', '--path', other))
    expect(plan.keep.map((k) => ids.indexOf(k.id))).toEqual([4])
    expect(plan.remove).toEqual([])
    const [one] = await env.plakar.jsonLines<Plan>(env.at('prune', '--keep-last', '1', '--group-by', 'host'))
    expect(one.keep.map((k) => ids.indexOf(k.id))).toEqual([4])
  })

  it('named policies: add, ls, prune --policy with flags overriding, rm', async () => {
    await env.plakar.ok(['policy', 'add', 'two', '--keep-last', '2', '--keep-tag', 'keep'])
    expectOneLineError(await env.plakar.run(['policy', 'add', 'two', '--keep-last', '3']), 2, /exists/)
    await env.plakar.ok(['policy', 'add', 'two', '--keep-last', '2', '--keep-tag', 'keep', '--replace'])
    const policies = await env.plakar.jsonLines<{name: string; policy: Record<string, unknown>}>(['policy', 'ls'])
    expect(policies).toEqual([{name: 'two', policy: {'keep-last': 2, 'keep-tag': ['keep']}}])
    expect(String((await env.plakar.ok(['policy', 'ls'])).stdout)).toBe('two  --keep-last 2 --keep-tag keep\n')
    const [plan] = await env.plakar.jsonLines<Plan>(env.at('prune', '--policy', 'two', '--keep-last', '1'))
    expect(plan.policy).toBe('--keep-last 1 --keep-tag keep')
    expect(plan.remove.map((r) => ids.indexOf(r.id))).toEqual([2, 1])

    const [applied] = await env.plakar.jsonLines<Plan>(env.at('prune', '--policy', 'two', '--apply'))
    expect(applied.dryRun).toBe(false)
    expect(applied.remove.map((r) => ids.indexOf(r.id))).toEqual([1])
    expect(await live()).toEqual([0, 2, 3, 4])
    await env.plakar.ok(['policy', 'rm', 'two'])
    expectOneLineError(await env.plakar.run(env.at('prune', '--policy', 'two')), 66, /no policy named "two"/)
  })

  it('usage errors: one line, exit 2', async () => {
    expectOneLineError(await env.plakar.run(env.at('prune')), 2, /--keep-last/)
    expectOneLineError(await env.plakar.run(env.at('prune', '--keep-last', '0')), 2, /at least one rule/)
    expectOneLineError(await env.plakar.run(env.at('prune', '--keep-last', '1', '--group-by', 'hostname')), 2, /"hostname" is not a field/)
    expectOneLineError(await env.plakar.run(env.at('prune', '--keep-within', 'a week')), 2, /not a duration/)
    expectOneLineError(await env.plakar.run(['policy', 'add', 'bad name', '--keep-last', '1']), 2, /not a valid policy name/)
    expectOneLineError(await env.plakar.run(['policy', 'add', 'empty']), 2, /at least one rule/)
  })
})

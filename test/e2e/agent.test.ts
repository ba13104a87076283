import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {expectOneLineError, setup, type Env} from './helpers.js'

/**
 * The agent's task file and one-shot runs: `agent validate` names every problem with its line,
 * `agent run-once` runs tasks through the engine and records them in the history.
 */
let env: Env
let src: string

beforeEach(async () => {
  env = setup('plakar-agent-')
  src = join(env.s.dir, 'src')
  mkdirSync(join(src, 'sub'), {recursive: true})
  writeFileSync(join(src, 'a.txt'), 'alpha\n')
  writeFileSync(join(src, 'sub', 'b.txt'), 'beta\n'.repeat(1000))
  writeFileSync(join(src, 'skip.tmp'), 'excluded\n')
  await env.plakar.ok(env.at('create'))
})
afterEach(() => env.s.cleanup())

function taskFile(body: string, name = 'agent.yaml'): string {
  const path = join(env.s.dir, name)
  writeFileSync(path, body)
  return path
}

describe('agent validate', () => {
  it('reports every problem at once, each with its line, and exits 2', async () => {
    const file = taskFile(
      [
        `repository: ${env.repo}`, // 1
        'tasks:', // 2
        '  home:', // 3
        '    kind: backup', // 4
        '    every: 10m', // 5: months, not minutes
        `    source: ${src}`, // 6
        '  nightly:', // 7
        '    kind: check', // 8
        '    cron: "61 * * * *"', // 9: no minute 61
        '  weekly:', // 10
        '    kind: prune', // 11
        '    every: 1h', // 12
        '    policy: missing', // 13: no such policy
        '  other:', // 14
        '    kind: backupp', // 15: unknown kind
        '    every: 1h', // 16
        '  hooked:', // 17
        '    kind: maintenance', // 18
        '    every: 1d', // 19
        '    colour: blue', // 20: unknown key
        '',
      ].join('\n'),
    )
    const r = await env.plakar.run(['agent', 'validate', '--config', file])
    expect(r.exitCode, String(r.stderr)).toBe(2)
    const lines = String(r.stderr).trim().split('\n')
    const at = (line: number) => lines.filter((l) => l.startsWith(`plakar: ${file}:${line}: `))
    expect(at(5)[0]).toMatch(/"m" means months/)
    expect(at(9)[0]).toMatch(/tasks\.nightly\.cron: .* is not a cron expression/)
    expect(at(13)[0]).toMatch(/no policy named "missing"/)
    expect(at(15)[0]).toMatch(/tasks\.other\.kind: must be one of backup, check, restore-test, sync, prune, maintenance/)
    expect(at(20)[0]).toMatch(/unknown key "colour"/)
    expect(lines).toHaveLength(5)
    expect(String(r.stderr)).not.toMatch(/^\s+at /m)

    const json = await env.plakar.run(['agent', 'validate', '--config', file, '--json'])
    expect(json.exitCode).toBe(2)
    const report = JSON.parse(String(json.stdout)) as {ok: boolean; problems: {line: number; message: string}[]}
    expect(report.ok).toBe(false)
    expect(report.problems.map((p) => p.line)).toEqual([5, 9, 13, 15, 20])
  })

  it('reads JSON task files with the same line numbers, and a syntax error with its line', async () => {
    const json = taskFile(`{\n  "repository": "${env.repo}",\n  "tasks": {\n    "c": {"kind": "check", "every": "1h", "fast": "yes"}\n  }\n}\n`, 'agent.json')
    const r = await env.plakar.run(['agent', 'validate', '-c', json])
    expect(r.exitCode).toBe(2)
    expect(String(r.stderr).trim()).toBe(`plakar: ${json}:4: tasks.c.fast: must be boolean`)
    const broken = taskFile('tasks:\n  a:\n    kind: [check\n', 'broken.yaml')
    const s = await env.plakar.run(['agent', 'validate', '-c', broken])
    expect(s.exitCode).toBe(2)
    expect(String(s.stderr)).toMatch(new RegExp(`^plakar: ${broken}:\\d: `))
  })

  it('accepts a good file and lists its tasks; a missing file is one line, exit 2', async () => {
    const file = taskFile(`repository: ${env.repo}\ntasks:\n  home:\n    kind: backup\n    source: ${src}\n    every: 10min\n  verify:\n    kind: check\n    cron: "0 3 * * *"\n`)
    const r = await env.plakar.ok(['agent', 'validate', '-c', file, '--json'])
    const report = JSON.parse(String(r.stdout)) as {ok: boolean; tasks: {name: string; schedule: string}[]}
    expect(report.ok).toBe(true)
    expect(report.tasks).toEqual([
      {name: 'home', kind: 'backup', schedule: 'every 10min', line: 3},
      {name: 'verify', kind: 'check', schedule: 'cron "0 3 * * *"', line: 7},
    ])
    expectOneLineError(await env.plakar.run(['agent', 'validate', '-c', join(env.s.dir, 'nope.yaml')]), 2, /cannot read the task file/)
  })
})

describe('agent run-once', () => {
  it('runs a backup task through the engine: a snapshot with its tags and excludes, a history row', async () => {
    const file = taskFile(
      `repository: ${env.repo}\nstate_dir: ${join(env.s.dir, 'state')}\ntasks:\n  home:\n    kind: backup\n    source: ${src}\n    tags: [agent, nightly]\n    excludes: ["*.tmp"]\n    every: 1h\n`,
    )
    const r = await env.plakar.ok(['agent', 'run-once', '-c', file, '--json'])
    const {runs} = JSON.parse(String(r.stdout)) as {runs: {task: string; result: string; snapshot: string}[]}
    expect(runs).toHaveLength(1)
    expect(runs[0]).toMatchObject({task: 'home', result: 'success'})
    const snapshots = await env.plakar.jsonLines<{id: string; tags: string[]}>(env.at('ls'))
    expect(snapshots.map((s) => s.id)).toEqual([runs[0].snapshot])
    expect(snapshots[0].tags.sort()).toEqual(['agent', 'nightly'])
    const files = await env.plakar.run(env.at('ls', `${runs[0].snapshot.slice(0, 8)}:${src}`))
    expect(String(files.stdout)).toMatch(/a\.txt/)
    expect(String(files.stdout)).not.toMatch(/skip\.tmp/)
  })

  it('a failing task is exit 1 with its reason; an unknown task name is a usage error', async () => {
    const file = taskFile(`repository: ${join(env.s.dir, 'no-repo')}\ntasks:\n  home:\n    kind: check\n    every: 1h\n`)
    const r = await env.plakar.run(['agent', 'run-once', '-c', file])
    expect(r.exitCode).toBe(1)
    expect(String(r.stderr)).toMatch(/home: failure: no repository at/)
    expect(String(r.stderr)).not.toMatch(/^\s+at /m)
    expectOneLineError(await env.plakar.run(['agent', 'run-once', '-c', file, 'nope']), 2, /no task named "nope"/)
  })
})

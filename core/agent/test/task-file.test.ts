import {describe, expect, it} from 'vitest'
import {parseTaskFile, TaskFileError, type TaskFileProblem} from '../src/task-file.js'

function problems(text: string): TaskFileProblem[] {
  try {
    parseTaskFile(text, 'agent.yaml')
  } catch (error) {
    if (error instanceof TaskFileError) return error.problems
    throw error
  }
  return []
}

describe('task files', () => {
  it('reads every kind with its defaults', () => {
    const file = parseTaskFile(
      [
        'repository: /r',
        'tasks:',
        '  b: {kind: backup, source: /src, every: 6h, tags: daily, excludes: ["*.tmp"]}',
        '  c: {kind: check, cron: "0 3 * * *", fast: true}',
        '  r: {kind: restore-test, every: 1d}',
        '  s: {kind: sync, with: "@offsite", every: 1d, peer_options: {port: 22}}',
        '  p: {kind: prune, policy: standard, every: 1d, missed: run, jitter: 5min}',
        '  m: {kind: maintenance, every: 1w, grace: 0, hooks: {pre: [echo, hi], timeout: 30}, health_check: "https://hc.example/x"}',
        '',
      ].join('\n'),
      '/etc/agent.yaml',
    )
    expect(file.shutdownTimeoutMs).toBe(60_000)
    expect(file.log).toEqual({maxBytes: 10 * 1024 * 1024, keep: 5})
    const [b, c, r, s, p, m] = file.tasks
    expect(b).toMatchObject({kind: 'backup', sources: ['/src'], tags: ['daily'], excludes: ['*.tmp'], schedule: {every: 6 * 3_600_000}, missed: 'skip', jitterMs: 0, line: 3})
    expect(c).toMatchObject({kind: 'check', fast: true, schedule: {cron: '0 3 * * *'}})
    expect(r).toMatchObject({kind: 'restore-test', sample: 10})
    expect(s).toMatchObject({kind: 'sync', direction: 'with', peer: '@offsite', peerOptions: {port: '22'}})
    expect(p).toMatchObject({kind: 'prune', policy: 'standard', missed: 'run', jitterMs: 300_000})
    expect(m).toMatchObject({kind: 'maintenance', graceMs: 0, hooks: {pre: ['echo', 'hi'], timeoutMs: 30_000}, healthCheck: {url: 'https://hc.example/x', timeoutMs: 10_000}})
  })

  it('names every problem at once, each at its line', () => {
    const found = problems(
      [
        'tasks:', // 1
        '  a:', // 2
        '    kind: backup', // 3: no source, no repository
        '    every: 10m', // 4
        '  b:', // 5
        '    kind: check', // 6
        '    every: 1h', // 7
        '    cron: "* * * * *"', // 8: both
        '    repository: /r', // 9
        '  c:', // 10
        '    kind: sync', // 11
        '    repository: /r', // 12
        '    to: /x', // 13
        '    from: /y', // 14: two directions
        '    every: 1h', // 15
        '    hooks: {pre: 3}', // 16
        '  "bad name":', // 17
        '    kind: check', // 18
        '',
      ].join('\n'),
    )
    const at = (line: number) => found.filter((p) => p.line === line).map((p) => p.message)
    expect(at(2).join()).toMatch(/tasks\.a: "source" is missing/)
    expect(at(16).join()).toMatch(/tasks\.c\.hooks\.pre: must be a command line/)
    expect(at(17).join()).toMatch(/"bad name" is not a valid task name/)
    // Tasks with schema errors are still checked for the rest.
    expect(found.map((p) => p.message).join('\n')).toMatch(/tasks\.b: give exactly one of "every"/)
    expect(found.map((p) => p.message).join('\n')).toMatch(/tasks\.c: give exactly one of "to", "from" or "with"/)
    expect(found.map((p) => p.message).join('\n')).toMatch(/tasks\.a.*: no repository/)
    expect(found.every((p) => p.line >= 1 && p.line <= 18)).toBe(true)
  })

  it('a YAML syntax error and an empty file are problems with lines', () => {
    expect(problems('tasks:\n  a: {kind: check\n')[0].line).toBeGreaterThanOrEqual(2)
    expect(problems('')).toEqual([{line: 1, message: 'the file: must be object'}])
    expect(problems('tasks: {}\n')[0].message).toMatch(/tasks: must NOT have fewer than 1 properties/)
  })
})

import Database from 'better-sqlite3'
import {execa, type ResultPromise} from 'execa'
import {execFileSync} from 'node:child_process'
import {createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import tar from 'tar-stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {ageTree} from '../support/tree.js'
import {setup, waitForFile, type Env} from './helpers.js'

/**
 * The real agent daemon, on second-level schedules: it runs every task kind through the
 * engine, records every due time, runs hooks and pings a real HTTP server, survives failing
 * tasks, drains on SIGTERM, and leaves no lock after kill -9. Every wait is on an event: a log
 * line, a file appearing, a process exit — never a sleep.
 */
let env: Env
let src: string
let stateDir: string
const children: ResultPromise[] = []

beforeEach(async () => {
  env = setup('plakar-agentd-')
  src = join(env.s.dir, 'src')
  stateDir = join(env.s.dir, 'state')
  mkdirSync(join(src, 'sub'), {recursive: true})
  writeFileSync(join(src, 'a.txt'), 'alpha\n')
  writeFileSync(join(src, 'sub', 'b.txt'), 'beta\n'.repeat(5000))
  // Written long before the backups: a restore drill compares only files the backup did not read
  // in the tick of their mtime with their source (racily clean ones may have changed unseen).
  await ageTree(src)
  await env.plakar.ok(env.at('create'))
})

afterEach(async () => {
  if (process.env.AGENT_TEST_DEBUG && existsSync(logPath())) console.log(readFileSync(logPath(), 'utf8'))
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.pid) child.kill('SIGKILL')
    await child.catch(() => {})
  }
  // A detached agent a test started (agent start without --foreground).
  const status = await env.plakar.run(['agent', 'status', '-c', join(env.s.dir, 'agent.yaml'), '--json'])
  const pid = status.exitCode === 0 ? (JSON.parse(String(status.stdout)) as {pid: number | null}).pid : null
  if (pid) process.kill(pid, 'SIGKILL')
  env.s.cleanup()
})

function taskFile(body: string): string {
  const path = join(env.s.dir, 'agent.yaml')
  writeFileSync(path, `repository: ${env.repo}\nstate_dir: ${stateDir}\n${body}`)
  return path
}

const logPath = () => join(stateDir, 'agent.log')

/** Resolves once `test` holds for the agent's log (read whole, rotated generations included), on each change of the state directory. */
/** Resolves with what `read` gives once `test` accepts it, read again at each change in the agent's state directory. */
function waitForState<T>(read: () => T, test: (value: T) => boolean): Promise<T> {
  mkdirSync(stateDir, {recursive: true})
  return new Promise((resolve) => {
    let done = false
    const check = () => {
      if (done) return
      const value = read()
      if (test(value)) {
        done = true
        watcher.close()
        resolve(value)
      }
    }
    const watcher = watch(stateDir, check)
    check()
  })
}

/** The agent's log, its rotated generations included (only the last few: it is bounded). */
function waitForLog(test: (text: string) => boolean, what: string): Promise<string> {
  void what
  return waitForState(() => {
    const files = readdirSync(stateDir)
      .filter((f) => f.startsWith('agent.log'))
      .sort()
      .reverse()
    // A generation may be renamed between the listing and the read (rotation): read it next time.
    return files
      .map((f) => {
        try {
          return readFileSync(join(stateDir, f), 'utf8')
        } catch {
          return ''
        }
      })
      .join('')
  }, test)
}

/**
 * The run history, every row of it: what to wait on when a condition spans many runs, since the
 * rotated log keeps only its last few KiB (on a loaded machine, lines of skipped due times push
 * the first runs' lines out before the last ones come).
 */
function waitForHistory(test: (history: Row[]) => boolean): Promise<Row[]> {
  return waitForState(() => {
    if (!existsSync(join(stateDir, 'history.db'))) return []
    try {
      return rows()
    } catch {
      // Being created or written: read it at the next change.
      return []
    }
  }, test)
}

const count = (text: string, re: RegExp) => [...text.matchAll(new RegExp(re.source, 'gm'))].length

/** The agent in the foreground, as systemd runs it. */
function foreground(file: string, extraEnv: Record<string, string> = {}): ResultPromise {
  const child = execa('node', [BIN, 'agent', 'start', '--foreground', '--config', file], {
    env: {...env.plakar.env, NODE_ENV: undefined, ...extraEnv},
    extendEnv: true,
    reject: false,
    cwd: env.s.dir,
    // The agent drains for up to shutdown_timeout: never SIGKILL it behind the test's back.
    forceKillAfterDelay: false,
  })
  children.push(child)
  return child
}

interface Row {
  id: number
  task: string
  result: string
  due: number
  started: number | null
  finished: number | null
  snapshot: string | null
  error: string | null
  warnings: string
  details: string | null
}

function rows(): Row[] {
  const db = new Database(join(stateDir, 'history.db'), {readonly: true})
  try {
    return db.prepare('SELECT * FROM runs ORDER BY id').all() as Row[]
  } finally {
    db.close()
  }
}

/** A local HTTP server standing in for a health-check service: it records each ping. */
async function healthServer(): Promise<{server: Server; url: string; pings: {method: string; path: string; body: string}[]}> {
  const pings: {method: string; path: string; body: string}[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      pings.push({method: req.method!, path: req.url!, body})
      res.writeHead(200).end('OK')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pings}
}

/** Lock objects of an fs repository (a file named by its 64-digit id; not a half-written temporary). */
const locksIn = (repo: string) => (existsSync(join(repo, 'locks')) ? readdirSync(join(repo, 'locks')).filter((f) => /^[0-9a-f]{64}$/.test(f)) : [])

describe('agent daemon', () => {
  it('runs backup, check, restore-test, sync, prune and maintenance on their schedules; failing tasks and hooks never stop it', async () => {
    const peer = join(env.s.dir, 'peer')
    await env.plakar.ok(['at', peer, 'create'])
    await env.plakar.ok(['policy', 'add', 'two', '--keep-last', '2'])
    const health = await healthServer()
    const hookLog = join(env.s.dir, 'hooks.log')
    try {
      const file = taskFile(
        [
          'shutdown_timeout: 2min',
          'log: {max_size: 2048, keep: 2}',
          'tasks:',
          '  home:',
          '    kind: backup',
          `    source: ${src}`,
          '    every: 2s',
          '    hooks:',
          `      post: echo "post $PLAKAR_TASK $PLAKAR_STATUS $PLAKAR_SNAPSHOT pass=\${PLAKAR_PASSPHRASE:-unset}" >> ${hookLog}`,
          `    health_check: ${health.url}/home`,
          '  verify:',
          '    kind: check',
          '    cron: "*/3 * * * * *"',
          '  drill:',
          '    kind: restore-test',
          '    every: 3s',
          '    sample: 2',
          '  offsite:',
          '    kind: sync',
          `    to: ${peer}`,
          '    every: 3s',
          '  retention:',
          '    kind: prune',
          '    policy: two',
          '    every: 4s',
          '  space:',
          '    kind: maintenance',
          '    grace: 0',
          '    every: 5s',
          '  flaky:',
          '    kind: check',
          '    fast: true',
          '    every: 2s',
          '    hooks:',
          '      pre: exit 3',
          `      failure: echo "failure $PLAKAR_TASK $PLAKAR_STATUS $PLAKAR_ERROR" >> ${hookLog}`,
          `    health_check: ${health.url}/flaky`,
          '  gone:',
          '    kind: check',
          `    repository: ${join(env.s.dir, 'no-such-repo')}`,
          '    every: 2s',
          '',
        ].join('\n'),
      )
      const agent = foreground(file)
      const tasks = ['home', 'verify', 'drill', 'offsite', 'retention', 'space']
      // Two ended runs of each task: the failing ones fail and are run again; a prune pruned.
      const runsOf = (h: Row[], task: string, result: string) => h.filter((r) => r.task === task && r.result === result)
      await waitForHistory(
        (h) =>
          tasks.every((name) => runsOf(h, name, 'success').length >= 2) &&
          runsOf(h, 'flaky', 'failure').length >= 2 &&
          runsOf(h, 'gone', 'failure').length >= 2 &&
          runsOf(h, 'retention', 'success').some((r) => (JSON.parse(r.details!) as {pruned: number}).pruned > 0),
      )
      agent.kill('SIGTERM')
      const ended = await agent
      expect(ended.exitCode, String(ended.stderr)).toBe(0)

      const history = rows()
      const by = (task: string, result: string) => runsOf(history, task, result)
      for (const task of tasks) expect(by(task, 'success').length, task).toBeGreaterThanOrEqual(2)
      // A failing pre hook fails the run, and the next due time runs anyway.
      expect(by('flaky', 'failure').length).toBeGreaterThanOrEqual(2)
      expect(by('flaky', 'failure')[0].error).toBe('pre hook exit failed: exit code 3')
      expect(by('gone', 'failure')[0].error).toMatch(/no repository at/)
      // Never two runs of one task at once, nor two runs on one repository.
      const ran = history.filter((r) => r.started !== null && r.finished !== null).sort((a, b) => a.started! - b.started!)
      for (let i = 1; i < ran.length; i++) {
        const onBackupRepo = (r: Row) => r.task !== 'gone'
        if (onBackupRepo(ran[i]) && onBackupRepo(ran[i - 1])) expect(ran[i].started!, `${ran[i - 1].task} then ${ran[i].task}`).toBeGreaterThanOrEqual(ran[i - 1].finished!)
      }
      // Every row is a run that ended, or a due time recorded as skipped: nothing left running.
      expect(history.filter((r) => !['success', 'failure', 'skipped'].includes(r.result))).toEqual([])

      // What the runs did, checked in the repositories themselves.
      const backups = by('home', 'success')
      const ids = new Set(backups.map((r) => r.snapshot))
      expect(ids.size).toBe(backups.length)
      const hooks = readFileSync(hookLog, 'utf8')
      for (const r of backups) expect(hooks).toContain(`post home success ${r.snapshot} pass=unset`)
      // Hooks never see the repository passphrase the agent has.
      expect(hooks).not.toContain(env.plakar.env.PLAKAR_PASSPHRASE)
      expect(hooks).toContain('failure flaky failure pre hook exit failed: exit code 3')
      const pruned = by('retention', 'success').reduce((n, r) => n + (JSON.parse(r.details!) as {pruned: number}).pruned, 0)
      expect(pruned).toBeGreaterThan(0)
      const left = await env.plakar.jsonLines<{id: string}>(env.at('ls'))
      expect(left.length).toBeLessThan(backups.length)
      const copied = await env.plakar.jsonLines<{id: string}>(['at', peer, 'ls'])
      expect(copied.length).toBeGreaterThan(0)
      const drill = JSON.parse(by('drill', 'success')[0].details!) as {compared: number; againstSource: number; mismatches: number}
      expect(drill).toMatchObject({compared: 2, againstSource: 2, mismatches: 0})
      // The health-check server heard each outcome: the URL on success, /fail on failure.
      expect(health.pings.filter((p) => p.method === 'POST' && p.path === '/home').length).toBe(backups.length)
      expect(health.pings.some((p) => p.path === '/flaky/fail' && /pre hook exit failed/.test(p.body))).toBe(true)
      // The log was rotated and stays bounded: agent.log, .1 and .2 at most (how many generations
      // a run fills depends on how many lines the runs wrote; core/agent/test/rotating-log.test.ts
      // drops the oldest for certain).
      const logs = readdirSync(stateDir).filter((f) => f.startsWith('agent.log'))
      expect(logs).toContain('agent.log.1')
      expect(logs.filter((f) => !['agent.log', 'agent.log.1', 'agent.log.2'].includes(f))).toEqual([])
      for (const f of logs) expect(statSync(join(stateDir, f)).size).toBeLessThanOrEqual(2048 + 1024)
      // Stopped cleanly: no repository lock left, and status says so.
      expect(locksIn(env.repo)).toEqual([])
      expect(locksIn(peer)).toEqual([])
      const status = await env.plakar.json<{running: boolean; tasks: {name: string; lastRun: {result: string} | null}[]}>(['agent', 'status', '-c', file])
      expect(status.running).toBe(false)
      expect(status.tasks.find((t) => t.name === 'home')!.lastRun!.result).toBe('success')
      await env.plakar.ok(env.at('check'))
    } finally {
      health.server.close()
    }
    // Eight tasks take turns on one repository, each run starting a task process (about half a
    // second of CPU): on a loaded 2-core machine the two runs of each took 105 s, and over 300 s
    // with the whole suite and two CPU-bound processes beside it. The test waits for the log's
    // events; this limit only catches an agent that stopped running tasks.
  }, 900_000)

  it('SIGTERM during a backup: waits up to shutdown_timeout, stops it, releases its lock, and the repository passes check', async () => {
    // Many small files: the backup takes a while, and checks for a stop between files.
    const many = join(env.s.dir, 'many')
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(many, String(d)), {recursive: true})
      for (let f = 0; f < 200; f++) writeFileSync(join(many, String(d), `${f}.txt`), `${d}/${f}\n`)
    }
    const file = taskFile(['shutdown_timeout: 0', 'tasks:', '  many:', '    kind: backup', `    source: ${many}`, '    every: 1h', ''].join('\n'))
    const agent = foreground(file)
    await waitForLog((t) => /many: started run 1/.test(t), 'the backup starts')
    // The backup holds its repository lock.
    await waitForFile(join(env.repo, 'locks'), () => locksIn(env.repo).length > 0)
    agent.kill('SIGTERM')
    const ended = await agent
    expect(ended.exitCode, String(ended.stderr)).toBe(0)
    const [run] = rows()
    expect(run).toMatchObject({task: 'many', result: 'interrupted'})
    expect(run.error).toMatch(/did not end in time/)
    expect(readFileSync(logPath(), 'utf8')).not.toMatch(/did not unwind/)
    expect(locksIn(env.repo)).toEqual([])
    expect(await env.plakar.jsonLines(env.at('ls'))).toEqual([])
    await env.plakar.ok(env.at('check'))
  })

  it('SIGTERM waits for a running backup that ends within shutdown_timeout', async () => {
    const file = taskFile(['shutdown_timeout: 5min', 'tasks:', '  home:', '    kind: backup', `    source: ${src}`, '    every: 1h', ''].join('\n'))
    const agent = foreground(file)
    await waitForLog((t) => /home: started run 1/.test(t), 'the backup starts')
    agent.kill('SIGTERM')
    const ended = await agent
    expect(ended.exitCode, String(ended.stderr)).toBe(0)
    const [run] = rows()
    expect(run).toMatchObject({task: 'home', result: 'success'})
    expect(await env.plakar.jsonLines(env.at('ls'))).toHaveLength(1)
    expect(locksIn(env.repo)).toEqual([])
  })

  it('a task process that dies (the OOM killer, a native crash) is a failed run; the agent goes on', async () => {
    const {fifo, feed} = await slowTarSource()
    const file = taskFile(['tasks:', '  stream:', '    kind: backup', `    source: tar:${fifo}`, '    every: 1h', '  home:', '    kind: backup', `    source: ${src}`, '    every: 1h', ''].join('\n'))
    const agent = foreground(file)
    // Both are due at once; whichever goes first, the stream's run holds the repository's turn until it ends.
    await waitForLog((t) => /stream: started run \d+/.test(t), 'the stream backup starts')
    const writer = await feed()
    await waitForFile(join(env.repo, 'locks'), () => locksIn(env.repo).length > 0)
    const [taskPid] = childrenOf(agent.pid!)
    process.kill(taskPid, 'SIGKILL')
    // The agent records the failure and goes on: home's backup runs after it.
    await waitForLog((t) => /stream: run \d+ failed/.test(t) && /home: run \d+ succeeded/.test(t), 'the stream run fails, home runs')
    writer.destroy()
    agent.kill('SIGTERM')
    expect((await agent).exitCode).toBe(0)
    const stream = rows().find((r) => r.task === 'stream')!
    expect(stream).toMatchObject({result: 'failure', error: "the task's process was killed by SIGKILL before the run ended"})
    // The killed process's lock is stale (its process is gone): home's backup removed it.
    expect(locksIn(env.repo)).toEqual([])
  })

  it('kill -9 of the agent: its task process stops the run and releases the repository lock by itself', async () => {
    const {fifo, feed} = await slowTarSource()
    const file = taskFile(['tasks:', '  stream:', '    kind: backup', `    source: tar:${fifo}`, '    every: 1h', ''].join('\n'))
    const agent = foreground(file)
    await waitForLog((t) => /stream: started run \d+/.test(t), 'the stream backup starts')
    const writer = await feed()
    await waitForFile(join(env.repo, 'locks'), () => locksIn(env.repo).length > 0)
    agent.kill('SIGKILL')
    await agent
    // The task process sees the agent's IPC channel close: it stops its backup, which releases its lock.
    await waitForFile(join(env.repo, 'locks'), () => locksIn(env.repo).length === 0)
    writer.destroy()
    expect(await env.plakar.jsonLines(env.at('ls'))).toEqual([])
    await env.plakar.ok(env.at('check'))
  })

  it('kill -9 of the agent and its task process leaves no agent lock: a new agent starts at once, records the killed run as interrupted and resumes the schedules', async () => {
    const {fifo, feed} = await slowTarSource()
    const file = taskFile(['tasks:', '  stream:', '    kind: backup', `    source: tar:${fifo}`, '    every: 1h', '  home:', '    kind: backup', `    source: ${src}`, '    every: 2s', ''].join('\n'))
    const agent = foreground(file)
    await waitForLog((t) => /stream: started run \d+/.test(t), 'the stream backup starts')
    const writer = await feed()
    await waitForFile(join(env.repo, 'locks'), () => locksIn(env.repo).length > 0)
    const killedPid = agent.pid!
    // The agent's only child now: the stream's task process (home's every 2s wait for the repository).
    const [taskPid] = childrenOf(killedPid)
    // Both killed at once (systemctl kill -s KILL, the OOM killer): the task process is frozen
    // first, so that it cannot see the agent go and release its lock in between.
    process.kill(taskPid, 'SIGSTOP')
    agent.kill('SIGKILL')
    await agent
    process.kill(taskPid, 'SIGKILL')
    writer.destroy()
    // The agent's lock went with its process; the repository lock the task process held is stale (its process is gone).
    const down = await env.plakar.json<{running: boolean}>(['agent', 'status', '-c', file])
    expect(down.running).toBe(false)
    const restarted = await env.plakar.ok(['agent', 'start', '-c', file, '--json'])
    const {pid} = JSON.parse(String(restarted.stdout)) as {pid: number}
    expect(pid).not.toBe(killedPid)
    // A second start is refused, naming the running agent.
    const again = await env.plakar.run(['agent', 'start', '-c', file])
    expect(again.exitCode).toBe(1)
    expect(String(again.stderr).trim()).toBe(`plakar: an agent is already running for ${file} (pid ${pid}): "plakar agent stop -c ${file}" stops it`)
    // Schedules resume: the next backups run, and the first one removes the stale lock.
    const before = count(readFileSync(logPath(), 'utf8'), /home: run \d+ succeeded/)
    const text = await waitForLog((t) => count(t, /home: run \d+ succeeded/) >= before + 2, 'two more backups')
    expect(text, text).toMatch(new RegExp(`removed a stale shared lock of pid ${taskPid}`))
    expect(rows().filter((r) => r.task === 'stream' && r.result === 'interrupted')).toHaveLength(1)
    const stop = await env.plakar.ok(['agent', 'stop', '-c', file, '--json'])
    expect(JSON.parse(String(stop.stdout))).toEqual({stopped: true, pid, config: file})
    expect(locksIn(env.repo)).toEqual([])
    expect((await env.plakar.json<{running: boolean}>(['agent', 'status', '-c', file])).running).toBe(false)
  })

  it('runs missed while the agent was down: run at start (missed: run) or recorded and skipped (missed: skip)', async () => {
    const file = taskFile(['tasks:', '  eager:', '    kind: backup', `    source: ${src}`, '    every: 1h', '    missed: run', '  lazy:', '    kind: check', '    fast: true', '    every: 1h', ''].join('\n'))
    // A history whose last runs were due three hours ago.
    mkdirSync(stateDir, {recursive: true})
    const db = new Database(join(stateDir, 'history.db'))
    db.exec(`CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, kind TEXT NOT NULL, due INTEGER NOT NULL, started INTEGER, finished INTEGER, result TEXT NOT NULL, snapshot TEXT, error TEXT, warnings TEXT NOT NULL DEFAULT '[]', details TEXT, pid INTEGER NOT NULL)`)
    const then = Date.now() - 3 * 3_600_000 - 60_000
    for (const [task, kind] of [
      ['eager', 'backup'],
      ['lazy', 'check'],
    ]) {
      db.prepare(`INSERT INTO runs (task, kind, due, started, finished, result, pid) VALUES (?, ?, ?, ?, ?, 'success', 1)`).run(task, kind, then, then, then + 1000)
    }
    db.close()
    const agent = foreground(file)
    await waitForLog((t) => /eager: run \d+ succeeded/.test(t) && /lazy: 3 runs missed while the agent was down, skipped/.test(t), 'the missed run')
    agent.kill('SIGTERM')
    expect((await agent).exitCode).toBe(0)
    const history = rows()
    expect(history.filter((r) => r.task === 'eager').map((r) => r.result)).toEqual(['success', 'success'])
    expect(history.filter((r) => r.task === 'lazy').map((r) => r.result)).toEqual(['success', 'missed'])
    expect(readFileSync(logPath(), 'utf8')).toMatch(/eager: 3 runs missed while the agent was down: running now/)
  })
})

/** The pids of a process's children (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // "pid (comm) state ppid …": comm may hold spaces and parentheses.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return out
}

/**
 * A backup source that never ends: a tar archive read from a FIFO, its small entries made as
 * fast as the backup reads them, forever. `feed` starts writing (once the importer has opened
 * the FIFO); the backup holds its lock and goes on until it is stopped. Data keeps flowing, so
 * no read of the agent stays blocked in the kernel (which would hold up any process's exit).
 */
async function slowTarSource(): Promise<{fifo: string; feed: () => Promise<{destroy: () => void}>}> {
  const fifo = join(env.s.dir, 'archive.fifo')
  execFileSync('mkfifo', [fifo])
  return {
    fifo,
    feed: async () => {
      const out = createWriteStream(fifo)
      const pack = tar.pack()
      let stopped = false
      const stop = () => {
        stopped = true
        pack.destroy()
        out.destroy()
      }
      // The reader went away (the agent stopped or was killed): stop writing.
      out.on('error', stop)
      out.on('close', () => (stopped = true))
      pack.pipe(out)
      let i = 0
      const next = (): void => {
        if (stopped) return
        i++
        pack.entry({name: `f${i}.bin`}, Buffer.alloc(4096, i % 251), () => {
          if (out.writableNeedDrain) out.once('drain', next)
          else setImmediate(next)
        })
      }
      next()
      return {destroy: stop}
    },
  }
}

import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import type {Logger} from '@plakar/sdk'
import {pingHealthCheck} from './health-check.js'
import {History, type RunResult} from './history.js'
import {hookName, runHook, type HookContext} from './hooks.js'
import type {TaskHost} from './interfaces/task-host.js'
import type {RotatingLog} from './rotating-log.js'
import {jitterDelay, Schedule} from './schedule.js'
import {runInTaskProcess} from './task-process.js'
import {failureMessage} from './task-runner.js'
import type {HookCommand, Task, TaskFile} from './task-file.js'

export interface AgentOptions {
  file: TaskFile
  host: TaskHost
  stateDir: string
  log: RotatingLog
  debug?: boolean
}

export interface RunSummary {
  task: string
  id: number
  result: RunResult
  snapshot?: string
  error?: string
  warnings: string[]
  durationMs: number
}

interface TaskState {
  task: Task
  schedule: Schedule
  timer?: NodeJS.Timeout
  /** Running or waiting for its repository: a due time meanwhile is skipped. */
  busy: boolean
  /** The first due time: intervals stay on its grid. */
  anchor?: number
}

/** The longest a Node timer can wait; longer waits are chained. */
const MAX_TIMER = 2 ** 31 - 1

/**
 * The agent: arms one timer per task, runs a task when it falls due (never two runs of one
 * task at once; runs on one repository one after the other), records every due time in the
 * history, runs hooks and health checks around each run, and on stop waits for running tasks up
 * to the task file's shutdown_timeout, then stops them. Each run is a task process of its own
 * (task-process.ts): its repository, locks and native memory live and die with it, and nothing
 * it throws or crashes on reaches the loop: a failing or crashing task is a "failure" row.
 */
export class Agent {
  readonly history: History
  readonly #options: AgentOptions
  readonly #states = new Map<string, TaskState>()
  readonly #running = new Map<Promise<RunSummary>, AbortController>()
  readonly #repoQueues = new Map<string, Promise<void>>()
  #stopping = false

  constructor(options: AgentOptions) {
    this.#options = options
    mkdirSync(options.stateDir, {recursive: true, mode: 0o700})
    this.history = new History(join(options.stateDir, 'history.db'))
    const interrupted = this.history.closeInterrupted()
    if (interrupted > 0) this.#log('warn', `${interrupted} run${interrupted === 1 ? ' was' : 's were'} interrupted when the previous agent stopped`)
    for (const task of options.file.tasks) this.#states.set(task.name, {task, schedule: new Schedule(task), busy: false})
  }

  /** Arms every task's timer, running at once those whose missed runs the policy says to run. */
  start(now = Date.now()): void {
    this.history.clearNext()
    for (const state of this.#states.values()) {
      const {task, schedule} = state
      const last = this.history.lastDue(task.name)
      const {due, missed} = schedule.first(now, last)
      state.anchor = last ?? due
      if (missed > 0 && task.missed === 'run') {
        this.#log('info', `${task.name}: ${missed} run${missed === 1 ? '' : 's'} missed while the agent was down: running now`)
        this.#arm(state, now, 0)
      } else {
        if (missed > 0) {
          this.history.note(task.name, task.kind, now, 'missed', `${missed} run${missed === 1 ? '' : 's'} missed while the agent was down (missed: skip)`)
          this.#log('info', `${task.name}: ${missed} run${missed === 1 ? '' : 's'} missed while the agent was down, skipped (missed: skip)`)
        }
        this.#arm(state, due, jitterDelay(task.jitterMs))
      }
      this.#log('info', `${task.name}: ${task.kind} ${schedule.describe()}, next run ${new Date(due).toISOString()}`)
    }
  }

  #arm(state: TaskState, due: number, jitter: number): void {
    if (this.#stopping || !Number.isFinite(due)) return
    const fires = due + jitter
    this.history.setNext(state.task.name, due, fires)
    const wait = () => {
      const delay = fires - Date.now()
      state.timer = setTimeout(delay > MAX_TIMER ? wait : () => this.#fire(state, due), Math.max(0, Math.min(delay, MAX_TIMER)))
    }
    wait()
  }

  #fire(state: TaskState, due: number): void {
    state.timer = undefined
    if (this.#stopping) return
    const {task, schedule} = state
    // The next due time is armed now, independent of this run: a run that takes longer than the
    // interval makes the next due time a "skipped" row, never an overlap or a burst of catch-ups.
    this.#arm(state, schedule.next(Math.max(due, Date.now()), state.anchor), jitterDelay(task.jitterMs))
    if (state.busy) {
      this.history.note(task.name, task.kind, due, 'skipped', 'the previous run was still going')
      this.#log('warn', `${task.name}: skipped the run due ${new Date(due).toISOString()}: the previous run is still going`)
      return
    }
    void this.#execute(state, due)
  }

  /** Runs the given tasks (all without names) once now, as the daemon would; resolves when all ended. */
  async runOnce(names: string[] = []): Promise<RunSummary[]> {
    const states = names.length === 0 ? [...this.#states.values()] : names.map((n) => this.#states.get(n)!)
    return Promise.all(states.map((s) => this.#execute(s, Date.now())))
  }

  #execute(state: TaskState, due: number): Promise<RunSummary> {
    state.busy = true
    const controller = new AbortController()
    const run = this.#run(state.task, due, controller).finally(() => {
      state.busy = false
      this.#running.delete(run)
    })
    this.#running.set(run, controller)
    return run
  }

  async #run(task: Task, due: number, controller: AbortController): Promise<RunSummary> {
    const release = await this.#lockRepositories(task)
    const started = Date.now()
    let id = 0
    const warnings: string[] = []
    let result: RunResult = 'failure'
    let snapshot: string | undefined
    let error: string | undefined
    let details: Record<string, unknown> | undefined
    let finished = started
    try {
      if (this.#stopping && controller.signal.aborted) throw new Error('the agent is stopping')
      id = this.history.start(task.name, task.kind, due, started)
      this.#log('info', `${task.name}: started run ${id} (${task.kind})`)
      try {
        const pre = await this.#hook(task, 'pre', task.hooks.pre, {task: task.name, kind: task.kind, status: 'running', runId: id}, controller.signal)
        if (pre) throw new HookFailed(pre)
        const timer = task.timeoutMs > 0 ? setTimeout(() => controller.abort(new TaskTimeout(task.timeoutMs)), task.timeoutMs) : undefined
        try {
          const logger = this.#taskLogger(task.name)
          const outcome = await runInTaskProcess(task, {
            command: this.#options.host.taskProcess,
            logger,
            signal: controller.signal,
            scratchDir: join(this.#options.stateDir, 'scratch', task.name),
            onStart: (pid) => logger.debug(`run ${id} in process ${pid}`),
          })
          snapshot = outcome.snapshot
          details = outcome.details
          if (outcome.failure) error = outcome.failure
          else result = 'success'
        } finally {
          clearTimeout(timer)
        }
      } catch (thrown) {
        error = controller.signal.aborted ? abortMessage(controller.signal.reason) : thrown instanceof HookFailed ? thrown.message : failureMessage(thrown)
        if (controller.signal.aborted && !(controller.signal.reason instanceof TaskTimeout)) result = 'interrupted'
        if (this.#options.debug && thrown instanceof Error && thrown.stack) this.#log('debug', `${task.name}: ${thrown.stack}`)
      }
      // The post or failure hook is part of the run (an unmount, a notification), under the
      // repository's turn: the next run on it starts after.
      const context: HookContext = {task: task.name, kind: task.kind, status: result === 'success' ? 'success' : 'failure', snapshot, error, durationMs: Date.now() - started, runId: id}
      if (result === 'success') {
        const post = await this.#hook(task, 'post', task.hooks.post, context)
        // A post hook is part of the job (unmount, upload): its failure fails the run.
        if (post) {
          result = 'failure'
          error = post
          context.status = 'failure'
          context.error = post
        }
      }
      if (result !== 'success') {
        const failed = await this.#hook(task, 'failure', task.hooks.failure, context)
        if (failed) warnings.push(failed)
      }
    } catch (thrown) {
      // Only a broken history (disk full) lands here: the run did not start.
      error = failureMessage(thrown)
      this.#log('error', `${task.name}: ${error}`)
    } finally {
      finished = Date.now()
      release()
    }
    const durationMs = finished - started
    if (id === 0) return {task: task.name, id, result: 'interrupted', error, warnings, durationMs}
    if (task.healthCheck) {
      const message = result === 'success' ? `${task.name}: success${snapshot ? ` (snapshot ${snapshot.slice(0, 8)})` : ''}` : `${task.name}: ${result}: ${error ?? ''}`
      const problem = await pingHealthCheck(task.healthCheck, {ok: result === 'success', message})
      if (problem) warnings.push(problem)
    }
    this.history.finish(id, {result, finished, snapshot, error, warnings, details})
    for (const w of warnings) this.#log('warn', `${task.name}: ${w}`)
    const took = `${(durationMs / 1000).toFixed(1)}s`
    if (result === 'success') this.#log('info', `${task.name}: run ${id} succeeded in ${took}${snapshot ? `, snapshot ${snapshot.slice(0, 8)}` : ''}`)
    else this.#log('error', `${task.name}: run ${id} ${result === 'interrupted' ? 'was interrupted' : 'failed'} after ${took}: ${error}`)
    return {task: task.name, id, result, snapshot, error, warnings, durationMs}
  }

  /** Runs one hook; its failure as a one-line message (never thrown), its output to the log. */
  async #hook(task: Task, which: 'pre' | 'post' | 'failure', command: HookCommand | undefined, context: HookContext, signal?: AbortSignal): Promise<string | undefined> {
    if (command === undefined) return undefined
    const r = await runHook(command, context, {timeoutMs: task.hooks.timeoutMs, cwd: this.#options.stateDir, signal}).catch((e: unknown) => ({ok: false, message: failureMessage(e), output: ''}))
    if (r.output) this.#log('info', `${task.name}: ${which} hook ${hookName(command)}: ${r.output.slice(0, 4000)}`)
    return r.ok ? undefined : `${which} hook ${hookName(command)} failed: ${r.message}`
  }

  /**
   * Runs on one repository go one after the other, in the order they fell due: maintenance's
   * exclusive lock never makes a backup of the same agent fail, and one process never opens a
   * repository's cache twice. Sync waits for both of its repositories (in a fixed order).
   */
  async #lockRepositories(task: Task): Promise<() => void> {
    const keys = [task.repository, ...(task.kind === 'sync' ? [task.peer] : [])].sort()
    const releases: (() => void)[] = []
    for (const key of new Set(keys)) {
      const before = this.#repoQueues.get(key) ?? Promise.resolve()
      let done!: () => void
      const mine = new Promise<void>((resolve) => (done = resolve))
      const tail = before.then(() => mine)
      this.#repoQueues.set(key, tail)
      await before
      releases.push(() => {
        done()
        if (this.#repoQueues.get(key) === tail) this.#repoQueues.delete(key)
      })
    }
    return () => releases.forEach((r) => r())
  }

  /**
   * Stops: no new run starts; running ones get until `deadline` ms to end, then are stopped:
   * their task processes are told to stop (their engine calls see the abort and unwind); one
   * that has not unwound within TASK_STOP_GRACE_MS releases its repository locks and exits, and
   * one still there at TASK_KILL_AFTER_MS is killed (its locks are then stale: their process is
   * gone, and the next writer removes them).
   */
  async stop(deadlineMs = this.#options.file.shutdownTimeoutMs): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    for (const state of this.#states.values()) clearTimeout(state.timer)
    this.history.clearNext()
    const running = [...this.#running.keys()]
    if (running.length > 0) {
      this.#log('info', `stopping: waiting up to ${Math.round(deadlineMs / 1000)}s for ${running.length} running task${running.length === 1 ? '' : 's'}`)
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([Promise.allSettled(running).then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), deadlineMs)))])
      clearTimeout(timer)
      if (timedOut) {
        this.#log('warn', `stopping: ${this.#running.size} task${this.#running.size === 1 ? '' : 's'} still running after ${Math.round(deadlineMs / 1000)}s: stopping them`)
        for (const controller of this.#running.values()) controller.abort(new AgentStopping())
        // Task processes are killed TASK_KILL_AFTER_MS after being told to stop: this wait is
        // for a run whose process could not even be killed (a read in uninterruptible sleep on
        // a dead NFS server); its run is recorded as interrupted here.
        let unwinding: NodeJS.Timeout | undefined
        await Promise.race([Promise.allSettled([...this.#running.keys()]), new Promise((resolve) => (unwinding = setTimeout(resolve, 10_000)))])
        clearTimeout(unwinding)
        const stuck = this.history.closeInterrupted({pid: process.pid, error: new AgentStopping().message})
        if (stuck > 0) this.#log('warn', `stopping: ${stuck} run${stuck === 1 ? '' : 's'} did not unwind in 10s: recorded as interrupted`)
      }
    }
    this.#log('info', 'stopped')
    this.history.close()
  }

  get stopping(): boolean {
    return this.#stopping
  }

  #log(level: 'info' | 'warn' | 'error' | 'debug', message: string): void {
    if (level === 'debug' && !this.#options.debug) return
    this.#options.log.write(level, message)
  }

  #taskLogger(name: string): Logger {
    return {
      debug: (m) => this.#log('debug', `${name}: ${m}`),
      info: (m) => this.#log('info', `${name}: ${m}`),
      warn: (m) => this.#log('warn', `${name}: ${m}`),
    }
  }
}

class HookFailed extends Error {}

class TaskTimeout extends Error {
  constructor(readonly ms: number) {
    super(`stopped after its timeout of ${Math.round(ms / 1000)}s`)
  }
}

class AgentStopping extends Error {
  constructor() {
    super('stopped: the agent was shutting down and the run did not end in time')
  }
}

function abortMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : 'stopped'
}

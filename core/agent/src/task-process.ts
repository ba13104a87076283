import {spawn} from 'node:child_process'
import {onAbort, PlakarError, UsageError, type Logger} from '@plakar/sdk'
import type {TaskHost} from './interfaces/task-host.js'
import {failureMessage, runTask, type TaskOutcome} from './task-runner.js'
import type {Task} from './task-file.js'

/**
 * Each run of a task in a process of its own, which exits when the run ends.
 *
 * Run in the agent's process, every run opened and closed a repository: its SQLite cache, zstd
 * contexts, decoding and chunking worker threads (an isolate each). The V8 heap stayed flat, but
 * the native memory they leave behind did not: the agent's resident memory rose by 1.7 to
 * 3.6 MiB a minute with five tasks every 10 s (glibc keeps freed pages in its arenas, fragmented
 * by each isolate's creation and teardown; MALLOC_ARENA_MAX=2 did not stop it). A process that
 * exits gives all of it back, so the agent holds only its schedules, history and log. It also
 * means a task that crashes (a native fault, running out of memory) ends its own process, not
 * the agent, which records the failure and runs the next due time.
 *
 * The agent talks to the task process over Node's IPC channel: it sends the task, the task
 * process sends log lines and, at the end, the outcome or the failure as one line. Stopping is
 * the agent's decision only: the task process ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C in
 * the agent's terminal or systemd's stop reach the whole process group, and the agent drains its
 * runs for up to shutdown_timeout first), and stops its run when the agent says so or when the
 * agent is gone (its IPC channel closes: kill -9 of the agent).
 */

/** How the agent starts a task process: the program and its arguments (the CLI's hidden `agent run-task`). */
export interface TaskProcessCommand {
  command: string
  args: string[]
}

type ToTaskProcess = {type: 'run'; task: Task; scratchDir: string} | {type: 'stop'}
type FromTaskProcess = {type: 'log'; level: 'debug' | 'info' | 'warn'; message: string} | {type: 'done'; outcome: TaskOutcome} | {type: 'failed'; message: string; stack?: string}

/**
 * After being told to stop, a task process has this long to unwind before it releases its
 * repository locks and exits by itself (as a command does after Ctrl-C)...
 */
export const TASK_STOP_GRACE_MS = 5_000
/** ...and the agent kills it this long after telling it, whatever it is doing (a read blocked in the kernel). */
export const TASK_KILL_AFTER_MS = 8_000

/** Exit code of a task process that stopped because it was told to (or the agent went away). */
const STOPPED_EXIT_CODE = 130

/** A run that failed in its task process: its one-line message, and its stack for --debug. */
export class TaskRunFailed extends PlakarError {
  constructor(message: string, stack?: string) {
    super(message, 1)
    if (stack) this.stack = stack
  }
}

export interface TaskProcessContext {
  command: TaskProcessCommand
  logger: Logger
  signal: AbortSignal
  scratchDir: string
  /** Called with the task process's pid once it runs. */
  onStart?: (pid: number) => void
}

/**
 * Runs one task in a new task process; resolves with its outcome once the process has exited
 * (its repository closed, its locks released, its memory returned), rejects with the run's
 * failure, or with how the process ended when it died before saying (a crash, a kill).
 */
export function runInTaskProcess(task: Task, ctx: TaskProcessContext): Promise<TaskOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(ctx.command.command, ctx.command.args, {
      cwd: process.cwd(),
      // stdout carries nothing; stderr is kept for a crash's last words (a V8 fatal error, a native abort).
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    })
    let said: {outcome: TaskOutcome} | {error: Error} | undefined
    let stderr = ''
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (text: string) => {
      stderr = (stderr + text).slice(-4096)
    })
    child.on('message', (message: FromTaskProcess) => {
      if (message.type === 'log') ctx.logger[message.level](message.message)
      else if (message.type === 'done') said = {outcome: message.outcome}
      else if (message.type === 'failed') said = {error: new TaskRunFailed(message.message, message.stack)}
    })
    let killer: NodeJS.Timeout | undefined
    const unlisten = onAbort(ctx.signal, () => {
      if (child.connected) child.send({type: 'stop'} satisfies ToTaskProcess, () => {})
      killer = setTimeout(() => child.kill('SIGKILL'), TASK_KILL_AFTER_MS)
    })
    let ended = false
    const end = (error: Error | undefined, outcome?: TaskOutcome) => {
      if (ended) return
      ended = true
      unlisten()
      clearTimeout(killer)
      if (error) reject(error)
      else resolve(outcome!)
    }
    child.on('error', (error) => {
      if (child.pid === undefined) end(new PlakarError(`cannot start the task's process (${ctx.command.command}): ${error.message}`))
    })
    child.on('spawn', () => {
      ctx.onStart?.(child.pid!)
      child.send({type: 'run', task, scratchDir: ctx.scratchDir} satisfies ToTaskProcess, () => {})
    })
    // 'close', not 'exit': stderr is read to its end.
    child.on('close', (code, signal) => {
      if (said && 'outcome' in said) return end(undefined, said.outcome)
      if (said) return end(said.error)
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
      const last = stderr.trim().split('\n').filter(Boolean).pop()
      end(new TaskRunFailed(`the task's process ${how} before the run ended${last ? ` (${last.slice(0, 300)})` : ''}`))
    })
  })
}

/**
 * The task process's side: waits for the agent's task, runs it with `host`, sends its log
 * lines and its outcome, and exits. Stops the run when the agent says so or goes away.
 */
export function serveTaskRun(host: TaskHost): Promise<never> {
  const send = process.send?.bind(process)
  if (!send) return Promise.reject(new UsageError('this command runs a task for the agent, which starts it: run "plakar agent run-once" instead'))
  const tell = (message: FromTaskProcess) =>
    new Promise<void>((resolve) => {
      if (!process.connected) return resolve()
      send(message, undefined, {}, () => resolve())
    })
  const logger: Logger = {
    debug: (m) => void tell({type: 'log', level: 'debug', message: m}),
    info: (m) => void tell({type: 'log', level: 'info', message: m}),
    warn: (m) => void tell({type: 'log', level: 'warn', message: m}),
  }
  // The agent decides when a run stops (see above): these signals reach the whole group.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {})
  const controller = new AbortController()
  const stop = () => {
    if (controller.signal.aborted) return
    controller.abort(new Error('stopped by the agent'))
    // Not unwound in time: release the locks (they would expire anyway) and exit.
    setTimeout(async () => {
      const {releaseHeldLocks} = await import('@plakar/engine/repository/lock.js')
      await releaseHeldLocks()
      process.exit(STOPPED_EXIT_CODE)
    }, TASK_STOP_GRACE_MS).unref()
  }
  process.on('disconnect', stop)
  return new Promise<never>(() => {
    process.on('message', (message: ToTaskProcess) => {
      if (message.type === 'stop') return stop()
      if (message.type !== 'run') return
      void runTask(message.task, {host, logger, signal: controller.signal, scratchDir: message.scratchDir})
        .then(
          (outcome) => tell({type: 'done', outcome}),
          (error: unknown) => tell({type: 'failed', message: failureMessage(error), stack: error instanceof Error ? error.stack : undefined}),
        )
        // Said and done: a worker or a socket the run left behind must not keep the process.
        .then(() => process.exit(0))
    })
  })
}

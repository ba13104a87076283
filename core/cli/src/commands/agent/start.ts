import {Flags} from '@oclif/core'
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {PlakarError} from '@plakar/sdk'
import {AgentCommand} from '../../cli/agent-command.js'
import {describeError} from '../../cli/error-message.js'

/** What the daemon tells `agent start` over the IPC channel once it runs, or why it could not. */
type StartMessage = {ready: true; pid: number; log: string} | {error: string; exitCode: number}

export default class AgentStart extends AgentCommand {
  static override summary = 'start the agent of a task file'
  static override description =
    'Starts a daemon that runs the tasks of the task file (backups, checks, restore tests, syncs, prunes, maintenance) when they fall due, and returns once it runs. With --foreground, runs it in this process (for systemd and containers). One agent per task file.'
  static override examples = ['plakar agent start --config /etc/plakar/agent.yaml', 'plakar agent start -c agent.yaml --foreground']
  static override flags = {
    ...AgentCommand.flags,
    foreground: Flags.boolean({description: 'run the agent in this process, logging to standard error too, until SIGTERM or SIGINT'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(AgentStart)
    const path = this.configPath(flags.config)
    if (flags.foreground) return this.#runDaemon(path)
    // Checked here first, so that a mistake is printed where the user is looking.
    const file = await this.loadTasks(path)
    const problems = this.referenceProblems(file, this.host())
    if (problems.length > 0) {
      const {TaskFileError} = await import('@plakar/agent/task-file.js')
      throw new TaskFileError(path, problems)
    }
    const {contact} = await import('@plakar/agent/instance-lock.js')
    const other = await contact(path, {cmd: 'hello'})
    if (other) throw alreadyRunning(path, other.pid)
    // The same program, detached, with only the flags it needs (never a secret: a passphrase
    // reaches it through the environment or a key file, as it reached this process).
    const passed: string[] = []
    for (const flag of ['config-dir', 'cache-dir', 'keyfile'] as const) if (flags[flag] !== undefined) passed.push(`--${flag}`, String(flags[flag]))
    if (flags.concurrency !== undefined) passed.push('--concurrency', String(flags.concurrency))
    if (flags.debug) passed.push('--debug')
    const child = spawn(process.execPath, [process.argv[1], 'agent', 'start', '--foreground', '--quiet', '--config', path, ...passed], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      cwd: '/',
    })
    const message = await new Promise<StartMessage>((resolve) => {
      child.once('message', (m) => resolve(m as StartMessage))
      child.once('exit', (code) => resolve({error: `the agent exited as it started (exit code ${code})`, exitCode: 1}))
      child.once('error', (error) => resolve({error: `cannot start the agent: ${error.message}`, exitCode: 1}))
    })
    if ('error' in message) throw new PlakarError(message.error, message.exitCode)
    child.disconnect()
    child.unref()
    if (this.settings.json) this.printJson({pid: message.pid, config: path, log: message.log})
    else this.say(`started the agent of ${path} (pid ${message.pid}); log: ${message.log}; "plakar agent status -c ${path}" shows its runs`)
  }

  async #runDaemon(path: string): Promise<void> {
    // SIGTERM drains running tasks for up to shutdown_timeout: longer than a command's grace.
    this.handleSignalsItself()
    const tell = (m: StartMessage) => {
      if (process.send) process.send(m)
    }
    try {
      const file = await this.loadTasks(path)
      const stateDir = this.stateDir(file)
      const {RotatingLog} = await import('@plakar/agent/rotating-log.js')
      const {Agent} = await import('@plakar/agent/agent.js')
      const {takeInstanceLock, AlreadyRunningError} = await import('@plakar/agent/instance-lock.js')
      const echo = process.send || this.settings.quiet ? undefined : (line: string) => process.stderr.write(line)
      const log = new RotatingLog(join(stateDir, 'agent.log'), {maxBytes: file.log.maxBytes, keep: file.log.keep, echo})
      const host = this.host({debug: (m) => this.settings.debug && log.write('debug', m), info: (m) => log.write('info', m), warn: (m) => log.write('warn', m)})
      const problems = this.referenceProblems(file, host)
      if (problems.length > 0) {
        const {TaskFileError} = await import('@plakar/agent/task-file.js')
        throw new TaskFileError(path, problems)
      }
      let agent: InstanceType<typeof Agent> | undefined
      let stop!: () => void
      const stopped = new Promise<void>((resolve) => (stop = resolve))
      const server = await takeInstanceLock(path, {pid: process.pid, config: path, started: Date.now()}, () => {
        if (agent?.stopping) return
        log.write('info', 'asked to stop (plakar agent stop)')
        stop()
      }).catch((error: unknown) => {
        if (error instanceof AlreadyRunningError) throw alreadyRunning(path, error.hello?.pid)
        throw error
      })
      agent = new Agent({file, host, stateDir, log, debug: this.settings.debug})
      // A task's stray rejection or exception is logged; it never ends the agent.
      process.on('unhandledRejection', (reason) => log.write('error', `unhandled rejection: ${describeError(reason as Error)}`))
      process.on('uncaughtException', (error) => log.write('error', `uncaught exception: ${describeError(error)}${this.settings.debug && error.stack ? ` ${error.stack}` : ''}`))
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
        process.on(signal, () => {
          if (agent?.stopping) return
          log.write('info', `${signal}: stopping`)
          stop()
        })
      }
      log.write('info', `agent started (pid ${process.pid}) for ${path}, ${file.tasks.length} tasks, history ${join(stateDir, 'history.db')}`)
      agent.start()
      const running = agent
      // Keeps the process alive while timers wait (the server is unreferenced, as a lock only).
      const keepAlive = setInterval(() => {}, 1 << 30)
      tell({ready: true, pid: process.pid, log: log.path})
      if (process.send) process.disconnect()
      await stopped
      await running.stop()
      clearInterval(keepAlive)
      // The lock goes with the process. Not awaited: `agent stop` keeps its connection open
      // until this process exits, and closing a server waits for its connections.
      server.close()
      // Worker threads or sockets a task left behind must not keep a stopped agent alive.
      process.exit(0)
    } catch (error) {
      tell({error: describeError(error as Error), exitCode: (error as {plakarExitCode?: number}).plakarExitCode ?? 1})
      throw error
    }
  }
}

function alreadyRunning(path: string, pid: number | undefined): PlakarError {
  return new PlakarError(`an agent is already running for ${path}${pid ? ` (pid ${pid})` : ''}: "plakar agent stop -c ${path}" stops it`)
}

import {Args} from '@oclif/core'
import {PlakarError, UsageError} from '@plakar/sdk'
import {AgentCommand} from '../../cli/agent-command.js'
import {formatDuration} from '../../cli/output.js'

export default class AgentRunOnce extends AgentCommand {
  static override summary = 'run tasks of a task file once, now'
  static override description =
    'Runs the named tasks (default: all) of the task file once, as the agent would — hooks, health checks and history included — and exits when they have ended. Exit code 1 when any run failed. Refused while an agent runs for the same file.'
  static override strict = false
  static override examples = ['plakar agent run-once --config agent.yaml', 'plakar agent run-once -c agent.yaml home-backup', 'plakar agent run-once -c agent.yaml --json']
  static override args = {task: Args.string({description: 'TASK… to run (default: every task)'})}
  static override flags = {...AgentCommand.flags}

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(AgentRunOnce)
    const path = this.configPath(flags.config)
    const file = await this.loadTasks(path)
    const names = argv as string[]
    const known = new Set(file.tasks.map((t) => t.name))
    const unknown = names.filter((n) => !known.has(n))
    if (unknown.length > 0) throw new UsageError(`no task named ${unknown.map((n) => `"${n}"`).join(', ')} in ${path}: it has ${[...known].join(', ')}`)
    const host = this.host()
    const problems = this.referenceProblems(file, host).filter((p) => names.length === 0 || names.some((n) => p.message.startsWith(`tasks.${n}.`)))
    if (problems.length > 0) {
      const {TaskFileError} = await import('@plakar/agent/task-file.js')
      throw new TaskFileError(path, problems)
    }
    const {takeInstanceLock, AlreadyRunningError} = await import('@plakar/agent/instance-lock.js')
    const server = await takeInstanceLock(path, {pid: process.pid, config: path, started: Date.now()}, () => {}).catch((error: unknown) => {
      if (error instanceof AlreadyRunningError) {
        throw new PlakarError(`an agent is running for ${path}${error.hello ? ` (pid ${error.hello.pid})` : ''}: it runs these tasks itself; stop it first to run them by hand`)
      }
      throw error
    })
    this.onExit(async () => void server.close())
    const {RotatingLog} = await import('@plakar/agent/rotating-log.js')
    const {Agent} = await import('@plakar/agent/agent.js')
    const stateDir = this.stateDir(file)
    const echo = this.settings.quiet || this.settings.json ? undefined : (line: string) => process.stderr.write(line)
    const log = new RotatingLog(`${stateDir}/agent.log`, {maxBytes: file.log.maxBytes, keep: file.log.keep, echo})
    const agent = new Agent({file, host: this.host(), stateDir, log, debug: this.settings.debug})
    this.signal.addEventListener('abort', () => void agent.stop(0))
    const runs = await agent.runOnce(names)
    await agent.stop()
    if (this.settings.json) {
      this.printJson({runs: runs.map((r) => ({task: r.task, id: r.id, result: r.result, snapshot: r.snapshot ?? null, error: r.error ?? null, warnings: r.warnings, durationMs: r.durationMs}))})
    } else {
      for (const r of runs) {
        const what = r.result === 'success' ? `success${r.snapshot ? `, snapshot ${r.snapshot.slice(0, 8)}` : ''}` : `${r.result}: ${r.error ?? ''}`
        this.say(`${r.task}: ${what} (${formatDuration(r.durationMs)})`)
      }
    }
    const failed = runs.filter((r) => r.result !== 'success')
    if (failed.length > 0) {
      process.stderr.write(this.settings.json ? '' : `plakar: ${failed.length} of ${runs.length} runs failed: see above and ${log.path}\n`)
      process.exitCode = 1
    }
  }
}

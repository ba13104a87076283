import {Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import type {RunRecord} from '@plakar/agent/history.js'
import {AgentCommand} from '../../cli/agent-command.js'
import {columns, formatDuration, formatTime} from '../../cli/output.js'

export default class AgentStatus extends AgentCommand {
  static override summary = 'show the tasks of a task file, their last and next runs'
  static override description =
    'Shows whether the agent of the task file runs, and for each task its schedule, last run (when, result, duration, snapshot), next run and counts of results, from the run history. --runs N lists the N latest runs too.'
  static override examples = ['plakar agent status --config /etc/plakar/agent.yaml', 'plakar agent status -c agent.yaml --json', 'plakar agent status -c agent.yaml --runs 20']
  static override flags = {
    ...AgentCommand.flags,
    runs: Flags.integer({description: 'list the N latest runs (every task) too', min: 1}),
    utc: Flags.boolean({description: 'show times in UTC'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(AgentStatus)
    const path = this.configPath(flags.config)
    const file = await this.loadTasks(path)
    const stateDir = this.stateDir(file)
    const {contact} = await import('@plakar/agent/instance-lock.js')
    const {History} = await import('@plakar/agent/history.js')
    const {Schedule} = await import('@plakar/agent/schedule.js')
    const agent = await contact(path, {cmd: 'hello'})
    const dbPath = join(stateDir, 'history.db')
    const history = existsSync(dbPath) ? new History(dbPath, {readonly: true}) : undefined
    this.onExit(async () => history?.close())
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())
    const runJson = (r: RunRecord | undefined) =>
      r && {
        id: r.id,
        task: r.task,
        result: r.result,
        due: iso(r.due),
        started: iso(r.started),
        finished: iso(r.finished),
        durationMs: r.started !== undefined && r.finished !== undefined ? r.finished - r.started : null,
        snapshot: r.snapshot ?? null,
        error: r.error ?? null,
        warnings: r.warnings,
        details: r.details ?? null,
      }
    const tasks = file.tasks.map((task) => {
      const last = history?.lastRun(task.name)
      const next = agent ? history?.next(task.name) : undefined
      return {
        name: task.name,
        kind: task.kind,
        schedule: new Schedule(task).describe(),
        location: this.host().redact(task.repository),
        lastRun: runJson(last) ?? null,
        nextRun: next ? iso(next.fires) : null,
        counts: history?.counts(task.name) ?? null,
      }
    })
    const recent = flags.runs && history ? history.runs({limit: flags.runs}) : []
    if (this.settings.json) {
      this.printJson({
        config: path,
        running: !!agent,
        pid: agent?.pid ?? null,
        since: iso(agent?.started),
        stateDir,
        log: join(stateDir, 'agent.log'),
        tasks,
        ...(flags.runs ? {runs: recent.map(runJson)} : {}),
      })
      return
    }
    const when = (ms: number | undefined) => (ms === undefined ? '-' : formatTime(ms, flags.utc))
    this.print(agent ? `agent running (pid ${agent.pid}) since ${when(agent.started)}` : 'agent not running')
    this.print(`history ${dbPath}${history ? '' : ' (no run yet)'}, log ${join(stateDir, 'agent.log')}`)
    const rows = [['TASK', 'KIND', 'SCHEDULE', 'LAST RUN', 'RESULT', 'DURATION', 'SNAPSHOT', 'NEXT RUN']]
    for (const t of tasks) {
      const last = history?.lastRun(t.name)
      const took = last?.started !== undefined && last.finished !== undefined ? formatDuration(last.finished - last.started) : '-'
      const next = agent ? history?.next(t.name) : undefined
      rows.push([t.name, t.kind, t.schedule, when(last?.started), last?.result ?? '-', took, last?.snapshot?.slice(0, 8) ?? '-', next ? when(next.fires) : '-'])
    }
    for (const line of columns(rows)) this.print(line)
    for (const t of tasks) if (t.lastRun && t.lastRun.result !== 'success' && t.lastRun.error) this.print(`${t.name}: ${t.lastRun.result}: ${t.lastRun.error}`)
    if (recent.length > 0) {
      this.print('')
      const runRows = [['RUN', 'TASK', 'DUE', 'RESULT', 'DURATION', 'SNAPSHOT', 'ERROR']]
      for (const r of recent) {
        const took = r.started !== undefined && r.finished !== undefined ? formatDuration(r.finished - r.started) : '-'
        runRows.push([String(r.id), r.task, when(r.due), r.result, took, r.snapshot?.slice(0, 8) ?? '-', r.error ?? ''])
      }
      for (const line of columns(runRows)) this.print(line)
    }
  }
}

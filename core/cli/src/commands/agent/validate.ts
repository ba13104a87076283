import {AgentCommand} from '../../cli/agent-command.js'
import type {TaskFile, TaskFileProblem} from '@plakar/agent/task-file.js'

export default class AgentValidate extends AgentCommand {
  static override summary = 'check a task file without running it'
  static override description =
    'Reads the task file, checks it against its schema and checks what it refers to (connectors, named stores and policies, key files, sources), and prints every problem at once with its line. Exit code 2 when there is any.'
  static override examples = ['plakar agent validate --config /etc/plakar/agent.yaml', 'plakar agent validate -c agent.yaml --json']
  static override flags = {...AgentCommand.flags}

  async run(): Promise<void> {
    const {flags} = await this.parse(AgentValidate)
    const path = this.configPath(flags.config)
    let file: TaskFile | undefined
    let problems: TaskFileProblem[] = []
    try {
      file = await this.loadTasks(path)
      problems = this.referenceProblems(file, this.host())
    } catch (error) {
      const listed = (error as {problems?: TaskFileProblem[]; partial?: TaskFile}).problems
      if (!listed) throw error
      // Tasks without problems of their own: their references are checked too.
      const partial = (error as {partial?: TaskFile}).partial
      problems = [...listed, ...(partial ? this.referenceProblems(partial, this.host()) : [])]
      file = undefined
    }
    problems.sort((a, b) => a.line - b.line)
    const {Schedule} = await import('@plakar/agent/schedule.js')
    if (this.settings.json) {
      this.printJson({
        ok: problems.length === 0,
        config: path,
        problems,
        tasks: problems.length === 0 ? file!.tasks.map((t) => ({name: t.name, kind: t.kind, schedule: new Schedule(t).describe(), line: t.line})) : [],
      })
    } else if (problems.length === 0) {
      this.say(`${path}: ok, ${file!.tasks.length} task${file!.tasks.length === 1 ? '' : 's'}`)
      for (const t of file!.tasks) this.say(`  ${t.name}  ${t.kind}  ${new Schedule(t).describe()}`)
    } else {
      // Every problem at once, one line each, as a compiler lists them.
      for (const p of problems) process.stderr.write(`plakar: ${path}:${p.line}: ${p.message}\n`)
    }
    if (problems.length > 0) process.exitCode = 2
  }
}

import {AgentCommand} from '../../cli/agent-command.js'

export default class AgentStop extends AgentCommand {
  static override summary = 'stop the agent of a task file'
  static override description =
    'Asks the agent of the task file to stop, as SIGTERM does: no new run starts, running tasks get until shutdown_timeout to end, then are stopped and their repository locks released. Returns once the agent has exited.'
  static override examples = ['plakar agent stop --config /etc/plakar/agent.yaml']
  static override flags = {...AgentCommand.flags}

  async run(): Promise<void> {
    const {flags} = await this.parse(AgentStop)
    const path = this.configPath(flags.config)
    const {contact} = await import('@plakar/agent/instance-lock.js')
    const agent = await contact(path, {cmd: 'stop'})
    if (!agent) {
      if (this.settings.json) this.printJson({stopped: false, pid: null, config: path})
      else this.say(`no agent is running for ${path}`)
      return
    }
    if (!this.settings.json) this.say(`stopping the agent of ${path} (pid ${agent.pid}): running tasks may take up to its shutdown_timeout`)
    await agent.exited
    if (this.settings.json) this.printJson({stopped: true, pid: agent.pid, config: path})
    else this.say(`stopped the agent (pid ${agent.pid})`)
  }
}

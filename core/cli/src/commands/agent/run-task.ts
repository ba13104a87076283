import type {ConnectorRegistry} from '../../connectors/registry.js'
import type {NamedConfigs} from '../../connectors/named-configs.js'
import {agentHost} from '../../cli/agent-host.js'
import {PlakarCommand} from '../../cli/base-command.js'
import {TOKENS} from '../../cli/container.js'

/**
 * A task process: the agent starts one per run (core/agent/src/task-process.ts) and hands it
 * the task over IPC. Not for users, hence hidden and without a manual page.
 */
export default class AgentRunTask extends PlakarCommand {
  static override hidden = true
  static override summary = 'run one run of a task for the agent (started by the agent)'

  async run(): Promise<void> {
    // The agent decides when a run stops, not a signal sent to the whole process group.
    this.handleSignalsItself()
    const host = agentHost(this.settings, this.services.resolve<ConnectorRegistry>(TOKENS.Registry), this.services.resolve<NamedConfigs>(TOKENS.NamedConfigs), this.logger)
    const {serveTaskRun} = await import('@plakar/agent/task-process.js')
    await serveTaskRun(host)
  }
}

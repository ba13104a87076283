import {Flags} from '@oclif/core'
import {createHash} from 'node:crypto'
import {realpathSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import type {Logger} from '@plakar/sdk'
import type {TaskHost} from '@plakar/agent/interfaces/task-host.js'
import type {Task, TaskFile} from '@plakar/agent/task-file.js'
import {PlakarCommand} from './base-command.js'
import {agentHost} from './agent-host.js'
import {TOKENS} from './container.js'
import type {ConnectorRegistry} from '../connectors/registry.js'
import type {NamedConfigs} from '../connectors/named-configs.js'
import {expandPath} from '../connectors/location.js'

/** What `agent` commands share: the task file, where its history and log live, the host services. */
export abstract class AgentCommand extends PlakarCommand {
  static override flags = {
    config: Flags.string({char: 'c', description: 'the task file (YAML or JSON)', required: true}),
  }

  /** The task file's real path: one agent per file, whatever path it was named by. */
  protected configPath(given: string): string {
    const path = expandPath(given)
    try {
      return realpathSync(path)
    } catch {
      return resolve(path)
    }
  }

  /**
   * Loads and validates the task file. Relative paths in it (sources, key files, repositories)
   * are relative to its directory: the agent works there.
   */
  protected async loadTasks(path: string): Promise<TaskFile> {
    const {loadTaskFile} = await import('@plakar/agent/task-file.js')
    const file = loadTaskFile(path)
    process.chdir(dirname(path))
    return file
  }

  /** Where the history and the log of a task file go: its state_dir, or one folder per file under the state directory. */
  protected stateDir(file: TaskFile): string {
    if (file.stateDir) return expandPath(file.stateDir, dirname(file.path))
    const base = process.env.PLAKAR_STATE_DIR ?? join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'plakar')
    return join(expandPath(base), 'agent', createHash('sha256').update(file.path).digest('hex').slice(0, 16))
  }

  protected host(logger: Logger = this.logger): TaskHost {
    return agentHost(this.settings, this.services.resolve<ConnectorRegistry>(TOKENS.Registry), this.services.resolve<NamedConfigs>(TOKENS.NamedConfigs), logger)
  }

  /** Problems the schema cannot see (unknown schemes, missing policies, key files, sources), with each task's line. */
  protected referenceProblems(file: TaskFile, host: TaskHost): {line: number; message: string}[] {
    const out: {line: number; message: string}[] = []
    for (const task of file.tasks) {
      for (const {key, message} of host.problems(references(task))) {
        // A sync's peer is under its direction's key (to, from, with).
        const at = key === 'peer' && task.kind === 'sync' ? task.direction : key
        out.push({line: task.lines[at] ?? task.line, message: `tasks.${task.name}.${at}: ${message}`})
      }
    }
    return out
  }
}

function references(task: Task): Parameters<TaskHost['problems']>[0] {
  return {
    kind: task.kind,
    repository: task.repository,
    keyfile: task.keyfile,
    sources: task.kind === 'backup' ? task.sources : undefined,
    peer: task.kind === 'sync' ? task.peer : undefined,
    policy: task.kind === 'prune' ? task.policy : undefined,
  }
}

import type {Exporter, Importer, Logger} from '@plakar/sdk'
import type {Repository} from '@plakar/engine/repository/repository.js'
import type {RetentionPolicy} from '@plakar/engine/engine/retention.js'
import type {TaskProcessCommand} from '../task-process.js'

/**
 * What the agent needs from its host (the CLI): connectors found through the plugin registry,
 * passphrases, and named retention policies. The agent itself knows no plugin and no oclif.
 */
export interface TaskHost {
  /** Opens a repository (a location or @store); the caller closes it. Never prompts. */
  openRepository(location: string, options: {keyfile?: string; storageOptions?: Record<string, string>; logger: Logger}): Promise<Repository>
  importer(location: string, options: Record<string, string>, logger: Logger): Promise<Importer>
  exporter(location: string, logger: Logger): Promise<Exporter>
  /** A named retention policy (plakar policy add); throws a NotFoundError naming it. */
  policy(name: string): RetentionPolicy
  /**
   * Problems a task file has that its schema cannot see (an unknown connector scheme, a missing
   * policy or key file), as one-line messages with the key they are about; checked by
   * `agent validate` and at start.
   */
  problems(task: {kind: string; repository: string; keyfile?: string; sources?: string[]; peer?: string; policy?: string}): {key: string; message: string}[]
  /** Redacts a location for logs and messages (passwords in URLs). */
  redact(location: string): string
  cacheDir: string
  concurrency: number
  /** The command line recorded in a backup's snapshot. */
  command: string[]
  /** How to start a task process, which runs one run of a task (see task-process.ts). */
  taskProcess: TaskProcessCommand
}

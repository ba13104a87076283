import {PlakarCommand} from '../cli/base-command.js'
import {complete, type CompletableCommand} from '../cli/completion.js'
import {NamedConfigs} from '../connectors/named-configs.js'

/**
 * Hidden: what the completion script asks at each TAB (`plakar complete -- WORDS…`, see
 * plakar-completion(1)). Prints one candidate per line; prints nothing rather than fail.
 */
export default class Complete extends PlakarCommand {
  static override hidden = true
  static override summary = 'print completion candidates for a command line (used by the completion script)'
  static override strict = false

  async run(): Promise<void> {
    await this.parse(Complete)
    // The words as the shell split them: oclif's parsing would eat a "--" being completed.
    const dash = this.argv.indexOf('--')
    const words = dash >= 0 ? this.argv.slice(dash + 1) : this.argv
    const commands: CompletableCommand[] = this.config.commands
      .filter((c) => !c.hidden)
      .flatMap((c) => {
        const flags = Object.entries(c.flags ?? {})
          .filter(([, f]) => !f.hidden && f.helpGroup !== 'GLOBAL')
          .map(([name, f]) => ({name, char: f.char, hasValue: f.type === 'option'}))
        return [c.id, ...(c.aliases ?? [])].map((id) => ({id: id.replaceAll(':', ' '), flags}))
      })
    const configs = new NamedConfigs(this.settings.configDir)
    const candidates = await complete(words, {
      commands,
      named: (kind) => {
        try {
          return configs.list(kind).map(([name]) => name)
        } catch {
          return []
        }
      },
      // Only a repository that opens without asking (stdin is not a terminal here: no prompt).
      snapshots: async (at) => {
        const repo = await this.openRepository(at ?? this.settings.repository)
        return repo.cache
          .snapshots()
          .sort((a, b) => b.time - a.time)
          .map((s) => s.id.toString('hex').slice(0, 8))
      },
    }).catch(() => [])
    for (const c of candidates) process.stdout.write(`${c}\n`)
  }

  // A completion never prints an error: the shell would show it in the middle of the line.
  override async catch(): Promise<void> {}
}

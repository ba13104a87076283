import {Args} from '@oclif/core'
import {UsageError} from '@plakar/sdk'
import {PlakarCommand} from '../cli/base-command.js'
import {completionScript} from '../cli/completion.js'

export default class Completion extends PlakarCommand {
  static override summary = 'print the shell completion script (bash or zsh)'
  static override description =
    'Prints a script that makes TAB complete plakar commands, subcommands, flags, named stores, sources and destinations (@NAME) and snapshot ids. Add "source <(plakar completion bash)" to ~/.bashrc, or "source <(plakar completion zsh)" to ~/.zshrc.'

  static override args = {shell: Args.string({description: 'bash or zsh', required: true})}
  static override examples = ['plakar completion bash', 'plakar completion zsh']

  async run(): Promise<void> {
    const {args} = await this.parse(Completion)
    if (args.shell !== 'bash' && args.shell !== 'zsh') throw new UsageError(`no completion for "${args.shell}": give bash or zsh`)
    process.stdout.write(completionScript(args.shell))
  }
}

import {Args} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import PlakarHelp from '../cli/help.js'

export default class Help extends PlakarCommand {
  static override summary = 'show a manual page'
  static override description =
    'Shows the manual page of COMMAND (or of plakar itself) through a pager on a terminal. "plakar COMMAND -h" prints a short usage screen instead.'
  static override strict = false
  static override examples = ['plakar help', 'plakar help backup', 'plakar help store add']
  static override args = {command: Args.string({description: 'the command whose manual to show (several words for a topic command)'})}

  async run(): Promise<void> {
    const {argv} = await this.parse(Help)
    await new PlakarHelp(this.config).showManual((argv as string[]).filter((a) => !a.startsWith('-')))
  }
}

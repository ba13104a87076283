import {PlakarCommand} from '../../cli/base-command.js'
import {Policies} from '../../cli/policies.js'
import {describeWords} from '../../cli/retention-flags.js'

export default class PolicyLs extends PlakarCommand {
  static override summary = 'list named retention policies'
  static override description = 'Lists the policies saved with "plakar policy add", with their rules.'
  static override examples = ['plakar policy ls', 'plakar policy ls --json']

  async run(): Promise<void> {
    await this.parse(PolicyLs)
    for (const [name, words] of new Policies(this.settings.configDir).list()) {
      if (this.settings.json) this.printJson({name, policy: words})
      else this.print(`${name}  ${describeWords(words)}`)
    }
  }
}

import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../../cli/base-command.js'
import {Policies} from '../../cli/policies.js'
import {describeWords, policyFromWords, retentionFlags, wordsFromFlags} from '../../cli/retention-flags.js'
import {hasRule} from '@plakar/engine/engine/retention.js'
import {UsageError} from '@plakar/sdk'

export default class PolicyAdd extends PlakarCommand {
  static override summary = 'save a named retention policy'
  static override description = 'Saves retention rules under NAME, for "plakar prune --policy NAME".'
  static override examples = ['plakar policy add standard --keep-daily 7 --keep-weekly 5 --keep-monthly 12', 'plakar policy add hosts --keep-last 10 --group-by host']
  static override args = {name: Args.string({description: 'policy name', required: true})}
  static override flags = {
    ...retentionFlags,
    replace: Flags.boolean({description: 'replace a policy of the same name'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(PolicyAdd)
    const words = wordsFromFlags(flags)
    if (!hasRule(policyFromWords(words))) throw new UsageError('give at least one rule: --keep-last, --keep-daily, --keep-within, --keep-tag…')
    new Policies(this.settings.configDir).add(args.name, words, flags.replace)
    if (this.settings.json) this.printJson({name: args.name, policy: words})
    else this.say(`saved policy ${args.name}: ${describeWords(words)}`)
  }
}

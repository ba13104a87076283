import {Args} from '@oclif/core'
import {PlakarCommand} from '../../cli/base-command.js'
import {Policies} from '../../cli/policies.js'

export default class PolicyRm extends PlakarCommand {
  static override summary = 'remove a named retention policy'
  static override description = 'Forgets the policy NAME. Snapshots are not touched.'
  static override examples = ['plakar policy rm standard']
  static override args = {name: Args.string({description: 'policy name', required: true})}

  async run(): Promise<void> {
    const {args} = await this.parse(PolicyRm)
    new Policies(this.settings.configDir).remove(args.name)
    if (this.settings.json) this.printJson({removed: args.name})
    else this.say(`removed policy ${args.name}`)
  }
}

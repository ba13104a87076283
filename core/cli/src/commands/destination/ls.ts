import {NamedLs} from '../../cli/named-config-commands.js'

export default class DestinationLs extends NamedLs {
  static override summary = 'list the named destinations'
  static override examples = ['plakar destination ls']
  protected readonly kind = 'destination'
}

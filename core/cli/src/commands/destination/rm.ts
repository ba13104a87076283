import {NamedRm} from '../../cli/named-config-commands.js'

export default class DestinationRm extends NamedRm {
  static override summary = 'forget a named destination'
  static override examples = ['plakar destination rm nas']
  protected readonly kind = 'destination'
}

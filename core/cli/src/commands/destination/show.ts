import {NamedShow} from '../../cli/named-config-commands.js'

export default class DestinationShow extends NamedShow {
  static override summary = 'show a named destination (secrets masked)'
  static override examples = ['plakar destination show nas']
  protected readonly kind = 'destination'
}

import {NamedShow} from '../../cli/named-config-commands.js'

export default class StoreShow extends NamedShow {
  static override summary = 'show a named store (secrets masked)'
  static override examples = ['plakar store show nas']
  protected readonly kind = 'store'
}

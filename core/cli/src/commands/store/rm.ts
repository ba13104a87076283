import {NamedRm} from '../../cli/named-config-commands.js'

export default class StoreRm extends NamedRm {
  static override summary = 'forget a named store'
  static override examples = ['plakar store rm nas']
  protected readonly kind = 'store'
}

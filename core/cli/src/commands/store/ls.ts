import {NamedLs} from '../../cli/named-config-commands.js'

export default class StoreLs extends NamedLs {
  static override summary = 'list the named stores'
  static override examples = ['plakar store ls']
  protected readonly kind = 'store'
}

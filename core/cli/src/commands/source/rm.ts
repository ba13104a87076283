import {NamedRm} from '../../cli/named-config-commands.js'

export default class SourceRm extends NamedRm {
  static override summary = 'forget a named source'
  static override examples = ['plakar source rm nas']
  protected readonly kind = 'source'
}

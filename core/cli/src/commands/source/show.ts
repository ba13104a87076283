import {NamedShow} from '../../cli/named-config-commands.js'

export default class SourceShow extends NamedShow {
  static override summary = 'show a named source (secrets masked)'
  static override examples = ['plakar source show nas']
  protected readonly kind = 'source'
}

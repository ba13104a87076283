import {NamedLs} from '../../cli/named-config-commands.js'

export default class SourceLs extends NamedLs {
  static override summary = 'list the named sources'
  static override examples = ['plakar source ls']
  protected readonly kind = 'source'
}

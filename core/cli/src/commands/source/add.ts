import {NamedAdd} from '../../cli/named-config-commands.js'

export default class SourceAdd extends NamedAdd {
  static override summary = 'name a backup source (importer) and its options'
  static override description = 'Saves LOCATION and its key=value options as @NAME, after checking every option against the connector\'s schema.'
  static override examples = ['plakar source add nas sftp://backup@nas.lan/srv/plakar identity=~/.ssh/id_ed25519']
  protected readonly kind = 'source'
}

import {NamedAdd} from '../../cli/named-config-commands.js'

export default class DestinationAdd extends NamedAdd {
  static override summary = 'name a restore target (exporter) and its options'
  static override description = 'Saves LOCATION and its key=value options as @NAME, after checking every option against the connector\'s schema.'
  static override examples = ['plakar destination add nas sftp://backup@nas.lan/srv/plakar identity=~/.ssh/id_ed25519']
  protected readonly kind = 'destination'
}

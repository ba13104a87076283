import {Flags} from '@oclif/core'
import {NamedAdd} from '../../cli/named-config-commands.js'

export default class StoreAdd extends NamedAdd {
  static override summary = 'name a repository location (storage) and its options'
  static override description = 'Saves LOCATION and its key=value options as @NAME, after checking every option against the connector\'s schema.'
  static override examples = ['plakar store add nas sftp://backup@nas.lan/srv/plakar identity=~/.ssh/id_ed25519']
  static override flags = {
    ...NamedAdd.flags,
    default: Flags.boolean({description: 'use this store when no location is given'}),
  }
  protected readonly kind = 'store'
}

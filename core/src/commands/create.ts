import {Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {UsageError} from '../errors.js'
import {DEFAULT_CHUNKING, DEFAULT_COMPRESSION} from '../format/config.js'
import {Repository} from '../repository/repository.js'

export default class Create extends PlakarCommand {
  static override summary = 'create a repository'
  static override description = 'Creates an encrypted (or, with --plaintext, unencrypted) repository at the location.'
  static override examples = ['plakar at /var/backups create', 'plakar at sftp://backup@nas/plakar create --no-compression']
  static override flags = {
    plaintext: Flags.boolean({description: 'do not encrypt (MACs stay keyed by the repository id)'}),
    'no-compression': Flags.boolean({description: 'store blobs uncompressed'}),
    chunking: Flags.string({description: 'chunk sizes as MIN:AVG:MAX bytes (AVG a power of two), e.g. 131072:524288:4194304'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Create)
    let chunking = DEFAULT_CHUNKING
    if (flags.chunking) {
      const parts = flags.chunking.split(':').map(Number)
      if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n))) throw new UsageError('--chunking takes MIN:AVG:MAX in bytes')
      chunking = {algorithm: 'fastcdc', min: parts[0], avg: parts[1], max: parts[2]}
    }
    const storage = await this.openStorage()
    const passphrase = flags.plaintext ? undefined : await this.passphrase({confirm: true})
    const config = await Repository.create(storage, {
      passphrase,
      chunking,
      compression: flags['no-compression'] ? {algorithm: 'none', level: 0} : DEFAULT_COMPRESSION,
    })
    passphrase?.fill(0)
    const id = Buffer.from(config.id).toString('hex')
    if (this.settings.json) this.printJson({repository: id, location: storage.location, encrypted: !flags.plaintext})
    else this.say(`created ${flags.plaintext ? 'unencrypted' : 'encrypted'} repository ${id.slice(0, 8)} at ${storage.location}`)
  }
}

import {Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {UsageError} from '@plakar/sdk'
import {redactLocation} from '../connectors/location.js'
import {parseOptions} from '../connectors/resolver.js'
import {DEFAULT_CHUNKING, DEFAULT_COMPRESSION, type RepositoryConfig} from '@plakar/engine/format/config.js'
import {Repository} from '@plakar/engine/repository/repository.js'

/** Nobody, not even plakar, can read an encrypted repository without its passphrase. */
const LOST_PASSPHRASE =
  'plakar: keep the passphrase safe: it cannot be recovered or reset, and without it the data in this repository is lost'

export default class Create extends PlakarCommand {
  static override summary = 'create a repository'
  static override description = 'Creates an encrypted (or, with --plaintext, unencrypted) repository at the location.'
  static override examples = [
    'plakar at /var/backups create',
    'plakar at sftp://backup@nas/plakar create --no-compression',
    'plakar at s3://backup.example.com/offsite create --from /var/backups',
  ]
  static override flags = {
    plaintext: Flags.boolean({description: 'do not encrypt (MACs stay keyed by the repository id)'}),
    'no-compression': Flags.boolean({description: 'store blobs uncompressed'}),
    'no-metadata-parity': Flags.boolean({description: 'store metadata without error-correcting parity (saves about 6 % of the metadata)'}),
    chunking: Flags.string({description: 'chunk sizes as MIN:AVG:MAX bytes (AVG a power of two), e.g. 131072:524288:4194304'}),
    from: Flags.string({
      description: 'make this repository a peer of the one at this location (same key material and chunking): sync between them copies sealed data as it is',
      exclusive: ['plaintext', 'no-compression', 'no-metadata-parity', 'chunking'],
    }),
    'peer-keyfile': Flags.string({description: 'read the passphrase of the --from repository from this file', dependsOn: ['from']}),
    'peer-option': Flags.string({description: "an option key=value of the --from repository's storage (repeatable)", multiple: true, multipleNonGreedy: true, dependsOn: ['from']}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Create)
    let chunking = DEFAULT_CHUNKING
    if (flags.chunking) {
      const parts = flags.chunking.split(':').map(Number)
      if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n))) throw new UsageError('--chunking takes MIN:AVG:MAX in bytes')
      chunking = {algorithm: 'fastcdc', min: parts[0], avg: parts[1], max: parts[2]}
    }
    let peerOf: {config: RepositoryConfig; master?: Buffer} | undefined
    if (flags.from) {
      const from = flags.from
      const peerStorage = await this.openStorage(from, parseOptions(flags['peer-option'] ?? []))
      peerOf = await Repository.unlock(peerStorage, () => this.peerPassphrase(from, flags['peer-keyfile']))
    }
    const storage = await this.openStorage()
    const plaintext = peerOf ? !peerOf.config.encryption : flags.plaintext
    // Said before the prompt when there is one, after the summary otherwise: either way, once.
    let warned = false
    const warn = () => {
      if (warned || this.settings.quiet || this.settings.json) return
      warned = true
      this.say(LOST_PASSPHRASE)
    }
    const passphrase = plaintext ? undefined : await this.passphrase({confirm: true, location: storage.location, beforePrompt: warn})
    const config = await Repository.create(storage, {
      peerOf,
      passphrase,
      chunking,
      compression: flags['no-compression'] ? {algorithm: 'none', level: 0} : DEFAULT_COMPRESSION,
      metadataParity: !flags['no-metadata-parity'],
    })
    passphrase?.fill(0)
    peerOf?.master?.fill(0)
    const id = Buffer.from(config.id).toString('hex')
    if (this.settings.json) this.printJson({id, location: storage.location, encrypted: !plaintext, ...(flags.from ? {peerOf: redactLocation(flags.from)} : {})})
    else this.say(`created ${plaintext ? 'unencrypted' : 'encrypted'} repository ${id.slice(0, 8)} at ${storage.location}${flags.from ? `, a peer of ${redactLocation(flags.from)}` : ''}`)
    if (!plaintext) warn()
  }
}

import {Flags} from '@oclif/core'
import {AuthError, UsageError} from '@plakar/sdk'
import {PlakarCommand} from '../cli/base-command.js'
import {readPassphrase} from '../cli/passphrase.js'
import {changePassphrase} from '@plakar/engine/engine/passphrase.js'

export default class Passphrase extends PlakarCommand {
  static override summary = 'change the passphrase of a repository'
  static override description =
    'Re-wraps the key of an encrypted repository under a new passphrase, and optionally new Argon2id costs, without rewriting any data. The old passphrase stops working.'
  static override examples = [
    'plakar passphrase',
    'PLAKAR_NEW_PASSPHRASE=… plakar at /var/backups passphrase',
    'plakar passphrase --new-keyfile ~/.new-passphrase --kdf-memory 262144',
  ]
  static override flags = {
    'new-keyfile': Flags.string({description: 'read the new passphrase from this file'}),
    'kdf-memory': Flags.integer({description: 'Argon2id memory of the new passphrase, KiB (default 65536)'}),
    'kdf-iterations': Flags.integer({description: 'Argon2id passes of the new passphrase (default 3)'}),
    'kdf-parallelism': Flags.integer({description: 'Argon2id lanes of the new passphrase (default 2)'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Passphrase)
    const storage = await this.openStorage()
    const change = await changePassphrase(storage, {
      current: () => this.passphrase({location: storage.location}),
      next: () => this.#newPassphrase(flags['new-keyfile'], storage.location),
      kdf: {memory: flags['kdf-memory'], iterations: flags['kdf-iterations'], parallelism: flags['kdf-parallelism']},
    })
    if (this.settings.json) {
      this.printJson({location: storage.location, kdf: change.kdf})
      return
    }
    const {memory, iterations, parallelism} = change.kdf
    this.say(`changed the passphrase of ${storage.location} (Argon2id, ${memory} KiB, ${iterations} passes, ${parallelism} lanes): the old one no longer opens it`)
  }

  /** --new-keyfile, then $PLAKAR_NEW_PASSPHRASE, then a prompt asked twice on a terminal. */
  async #newPassphrase(keyfile: string | undefined, location: string): Promise<Buffer> {
    const fromEnv = process.env.PLAKAR_NEW_PASSPHRASE
    if (!keyfile && fromEnv === '') throw new UsageError('PLAKAR_NEW_PASSPHRASE is set but empty')
    if (!keyfile && fromEnv === undefined && (!process.stdin.isTTY || !process.stderr.isTTY)) {
      throw new AuthError('a new passphrase is needed: set PLAKAR_NEW_PASSPHRASE, pass --new-keyfile FILE, or run on a terminal')
    }
    return readPassphrase({keyfile, confirm: true, location, env: {PLAKAR_PASSPHRASE: fromEnv}})
  }
}

import {PlakarError, UsageError, type Storage} from '@plakar/sdk'
import {defaultKdfParams, deriveKeyFromPassphrase, type KdfParams} from '../crypto/kdf.js'
import {KeySet, unwrapMasterKey, wrapMasterKey} from '../crypto/keys.js'
import {keySaltOf, serializeConfig, type RepositoryConfig} from '../format/config.js'
import {checkKdfBounds} from '../repository/pin.js'
import {Repository} from '../repository/repository.js'
import {requireWritable} from '../repository/storage-capabilities.js'

/** The Argon2id costs a user may choose; the salt is always new. */
export type KdfChoice = Partial<Pick<KdfParams, 'memory' | 'iterations' | 'parallelism'>>

export interface PassphraseChange {
  /** The Argon2id parameters the new passphrase is derived with. */
  kdf: Omit<KdfParams, 'salt'>
}

/**
 * Re-wraps the master key under a new passphrase (docs/format.md §5): only the config changes,
 * in one atomic replacement, so every packfile, state and cache stays valid, the old passphrase
 * stops working, and a crash at any moment leaves one of the two passphrases working. The new
 * config is checked before it is stored (the new passphrase unwraps the key) and after (the
 * storage returns exactly it).
 */
export async function changePassphrase(
  storage: Storage,
  options: {current: () => Promise<Uint8Array>; next: () => Promise<Uint8Array>; kdf?: KdfChoice},
): Promise<PassphraseChange> {
  if (typeof storage.replaceConfig !== 'function') {
    throw new PlakarError(`the storage of ${storage.location} cannot replace its config (its plugin predates plakar passphrase): update the plugin`)
  }
  requireWritable(storage, 'change its passphrase')
  const {config, master} = await Repository.unlock(storage, options.current)
  if (!config.encryption || !master) throw new UsageError(`the repository at ${storage.location} is not encrypted: it has no passphrase to change`)
  try {
    const kdf: KdfParams = {...defaultKdfParams(), ...definedOnly(options.kdf ?? {})}
    try {
      checkKdfBounds(kdf)
    } catch {
      throw new UsageError('Argon2id parameters out of range: memory 8192..4194304 KiB, iterations 1..64, parallelism 1..64')
    }
    const next = await options.next()
    const kek = await deriveKeyFromPassphrase(next, kdf)
    next.fill(0)
    const wrappedKey = wrapMasterKey(kek, master, config.id)
    if (!unwrapMasterKey(kek, wrappedKey, config.id).equals(master)) throw new PlakarError('re-wrapping the key failed: the config was left unchanged')
    kek.fill(0)
    const keys = KeySet.fromMasterKey(master, keySaltOf(config))
    const updated: RepositoryConfig = {...config, encryption: {...config.encryption, kdf, wrappedKey}}
    const bytes = serializeConfig(updated, keys.configMac)
    await storage.replaceConfig(bytes)
    const stored = Buffer.from(await storage.open())
    if (!stored.equals(bytes)) {
      throw new PlakarError(`the storage of ${storage.location} returned another config after the change: check which passphrase opens it`)
    }
    const {salt: _salt, ...shown} = kdf
    return {kdf: shown}
  } finally {
    master.fill(0)
  }
}

function definedOnly(choice: KdfChoice): KdfChoice {
  return Object.fromEntries(Object.entries(choice).filter(([, v]) => v !== undefined))
}

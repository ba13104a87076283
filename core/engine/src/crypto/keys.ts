import {createCipheriv, createDecipheriv, hkdfSync, randomBytes} from 'node:crypto'
import {AuthError} from '@plakar/sdk'
import {deriveKey, Mac} from './mac.js'
import {AeadSealer, MacSealer, type Sealer} from './seal.js'

/**
 * Every key a repository uses, derived from one 32-byte master key with HKDF-SHA256
 * (salt = repository id, info = purpose), so that keys for different purposes are independent.
 */
export class KeySet {
  /** Chunk and blob ids: keyed BLAKE3 of the plaintext. */
  readonly blobMac: Mac
  /** Packfile and state ids: keyed BLAKE3 of the stored bytes. */
  readonly objectMac: Mac
  /** Seals blobs and every other stored structure. */
  readonly sealer: Sealer
  /** Seeds the chunker's gear table, so chunk boundaries do not fingerprint known files. */
  readonly chunkerSeed: Buffer
  /** Authenticates the repository config. */
  readonly configMac: Mac
  /** Seeds the content-defined boundaries of tree nodes. */
  readonly treeSeed: Buffer
  readonly encrypted: boolean

  readonly #subkeys: Subkeys

  private constructor(subkeys: Subkeys) {
    this.#subkeys = subkeys
    this.encrypted = subkeys.encrypted
    this.blobMac = new Mac(subkeys.blobMac)
    this.objectMac = new Mac(subkeys.objectMac)
    this.chunkerSeed = Buffer.from(subkeys.chunker)
    this.configMac = new Mac(subkeys.configMac)
    this.treeSeed = Buffer.from(subkeys.tree)
    this.sealer = subkeys.encrypted ? new AeadSealer(subkeys.seal) : new MacSealer(subkeys.seal)
  }

  static #derive(master: Uint8Array, repositoryId: Uint8Array, encrypted: boolean): KeySet {
    const sub = (purpose: string) => Buffer.from(hkdfSync('sha256', master, repositoryId, `plakar v1 ${purpose}`, 32))
    return new KeySet({
      encrypted,
      blobMac: sub('blob mac'),
      objectMac: sub('object mac'),
      chunker: sub('chunker'),
      configMac: sub('config mac'),
      tree: sub('tree'),
      seal: sub(encrypted ? 'seal' : 'integrity'),
    })
  }

  static fromMasterKey(master: Uint8Array, repositoryId: Uint8Array): KeySet {
    return KeySet.#derive(master, repositoryId, true)
  }

  /** Plaintext repositories still key their MACs, with a key derived from the repository id. */
  static plaintext(repositoryId: Uint8Array): KeySet {
    return KeySet.#derive(deriveKey('plakar v1 plaintext repository', repositoryId), repositoryId, false)
  }

  /**
   * The subkeys, for this process's worker threads only (they chunk, MAC and seal off the main
   * thread); they are posted in memory and never written anywhere.
   */
  subkeys(): Subkeys {
    return this.#subkeys
  }

  static fromSubkeys(subkeys: Subkeys): KeySet {
    return new KeySet(subkeys)
  }
}

export interface Subkeys {
  encrypted: boolean
  blobMac: Uint8Array
  objectMac: Uint8Array
  chunker: Uint8Array
  configMac: Uint8Array
  tree: Uint8Array
  seal: Uint8Array
}

export function randomMasterKey(): Buffer {
  return randomBytes(32)
}

/**
 * The master key is wrapped with AES-256-GCM under the passphrase-derived key (a fresh salt,
 * hence a fresh key, each time the passphrase is set). A failed GCM tag means a wrong passphrase.
 * Layout: nonce(12) ‖ ciphertext(32) ‖ tag(16).
 */
export function wrapMasterKey(kek: Uint8Array, master: Uint8Array, repositoryId: Uint8Array): Buffer {
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', kek, nonce)
  cipher.setAAD(Buffer.concat([Buffer.from('plakar v1 master key '), repositoryId]))
  return Buffer.concat([nonce, cipher.update(master), cipher.final(), cipher.getAuthTag()])
}

export function unwrapMasterKey(kek: Uint8Array, wrapped: Uint8Array, repositoryId: Uint8Array): Buffer {
  const buf = Buffer.from(wrapped)
  if (buf.length !== 60) throw new AuthError('the wrapped key in the repository config is malformed')
  const decipher = createDecipheriv('aes-256-gcm', kek, buf.subarray(0, 12))
  decipher.setAAD(Buffer.concat([Buffer.from('plakar v1 master key '), repositoryId]))
  decipher.setAuthTag(buf.subarray(44))
  try {
    return Buffer.concat([decipher.update(buf.subarray(12, 44)), decipher.final()])
  } catch {
    throw new AuthError('wrong passphrase for this repository')
  }
}

/** The canary: proves that an unwrapped master key is this repository's. */
export function canaryOf(keys: KeySet, repositoryId: Uint8Array): Buffer {
  return keys.configMac.digest(Buffer.from('plakar v1 canary '), repositoryId)
}

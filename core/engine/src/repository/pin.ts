import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {IntegrityError} from '@plakar/sdk'
import type {KdfParams} from '../crypto/kdf.js'

/**
 * The repository config is read before it can be authenticated (it holds the KDF salt), so an
 * attacker with write access could replace an encrypted repository's config by a plaintext one
 * (plaintext MAC keys derive from the public repository id) and have the next backup store data
 * in the clear. Each client therefore remembers, per repository id, that it was encrypted, and
 * refuses a config that says otherwise.
 */
export class EncryptionPin {
  readonly #file: string

  constructor(cacheDir: string, repositoryId: Uint8Array) {
    this.#file = join(cacheDir, 'repositories', Buffer.from(repositoryId).toString('hex'), 'encrypted')
  }

  encrypted(): boolean {
    return existsSync(this.#file)
  }

  remember(): void {
    if (this.encrypted()) return
    mkdirSync(join(this.#file, '..'), {recursive: true, mode: 0o700})
    writeFileSync(this.#file, 'this repository is encrypted; a config that says otherwise is refused\n', {mode: 0o600})
  }
}

/**
 * KDF parameters come from the unauthenticated config: bound them before use, so a tampered
 * config cannot make a client allocate gigabytes or spin for hours.
 */
export function checkKdfBounds(kdf: KdfParams): void {
  const ok =
    kdf.algorithm === 'argon2id' &&
    Number.isInteger(kdf.memory) && kdf.memory >= 8 * 1024 && kdf.memory <= 4 * 1024 * 1024 &&
    Number.isInteger(kdf.iterations) && kdf.iterations >= 1 && kdf.iterations <= 64 &&
    Number.isInteger(kdf.parallelism) && kdf.parallelism >= 1 && kdf.parallelism <= 64 &&
    kdf.salt?.length >= 16 && kdf.salt.length <= 64
  if (!ok) throw new IntegrityError('the repository config asks for out-of-range key derivation parameters: it is damaged or was tampered with')
}

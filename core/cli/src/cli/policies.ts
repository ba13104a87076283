import {chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {NotFoundError, UsageError} from '@plakar/sdk'
import {policyFromWords, type PolicyWords} from './retention-flags.js'

/**
 * Named retention policies (`plakar policy add NAME …`, used by `prune --policy NAME`), kept in
 * <config dir>/policies.json in the words of the prune flags. A file of its own: config.json
 * holds credentials and is rewritten by other commands.
 */
interface PolicyFile {
  version: 1
  policies: Record<string, PolicyWords>
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export class Policies {
  readonly path: string

  constructor(configDir: string) {
    this.path = join(configDir, 'policies.json')
  }

  #load(): PolicyFile {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {version: 1, policies: {}}
      throw error
    }
    try {
      const parsed = JSON.parse(text) as Partial<PolicyFile>
      return {version: 1, policies: parsed.policies ?? {}}
    } catch {
      throw new UsageError(`${this.path} is not valid JSON: fix or remove it`)
    }
  }

  #save(file: PolicyFile): void {
    mkdirSync(dirname(this.path), {recursive: true, mode: 0o700})
    const temp = `${this.path}.${process.pid}.tmp`
    writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, {mode: 0o600})
    chmodSync(temp, 0o600)
    renameSync(temp, this.path)
  }

  list(): [string, PolicyWords][] {
    return Object.entries(this.#load().policies).sort(([a], [b]) => a.localeCompare(b))
  }

  get(name: string): PolicyWords {
    const words = this.#load().policies[name]
    if (!words) throw new NotFoundError(`no policy named "${name}": "plakar policy ls" lists them, "plakar policy add" adds one`)
    return words
  }

  add(name: string, words: PolicyWords, replace = false): void {
    if (!NAME.test(name)) throw new UsageError(`"${name}" is not a valid policy name: use letters, digits, "_", "." and "-"`)
    // Parsed now, so a saved policy is always one prune accepts.
    policyFromWords(words)
    const file = this.#load()
    if (file.policies[name] && !replace) throw new UsageError(`a policy named "${name}" exists: remove it first or use --replace`)
    file.policies[name] = words
    this.#save(file)
  }

  remove(name: string): void {
    const file = this.#load()
    if (!file.policies[name]) throw new NotFoundError(`no policy named "${name}": "plakar policy ls" lists them`)
    delete file.policies[name]
    this.#save(file)
  }
}

import {execa, type Result} from 'execa'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const BIN = join(ROOT, 'bin', 'run.js')

/** A scratch directory removed by `cleanup`. */
export function scratch(prefix = 'plakar-test-'): {dir: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  input?: string | Buffer
  cwd?: string
  /** Kill after this many ms. */
  timeout?: number
}

/**
 * An isolated plakar: its own HOME, config and cache directories, and a passphrase, so tests
 * never touch the user's real ~/.plakar and can run in parallel.
 */
export class Plakar {
  readonly home: string
  readonly env: Record<string, string>

  constructor(home: string, env: Record<string, string> = {}) {
    this.home = home
    this.env = {
      HOME: home,
      PLAKAR_CONFIG_DIR: join(home, 'config'),
      PLAKAR_CACHE_DIR: join(home, 'cache'),
      PLAKAR_PASSPHRASE: 'correct horse battery staple',
      NO_COLOR: '1',
      ...env,
    }
  }

  run(args: string[], options: CliOptions = {}): Promise<Result> {
    return execa('node', [BIN, ...args], {
      env: {...this.env, ...options.env},
      extendEnv: true,
      reject: false,
      input: options.input,
      cwd: options.cwd ?? this.home,
      timeout: options.timeout ?? 300_000,
      encoding: 'utf8',
      stripFinalNewline: false,
    })
  }

  /** Runs and fails the test with the full output when the exit code is not `expected`. */
  async ok(args: string[], options: CliOptions & {expected?: number} = {}): Promise<Result> {
    const result = await this.run(args, options)
    const expected = options.expected ?? 0
    if (result.exitCode !== expected) {
      throw new Error(`plakar ${args.join(' ')} exited ${result.exitCode ?? `by ${result.signal ?? 'an unknown cause'}`} (expected ${expected})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
    }
    return result
  }

  /** Runs with --json and parses stdout (one object, or one per line). */
  async json<T = Record<string, unknown>>(args: string[], options: CliOptions = {}): Promise<T> {
    const result = await this.ok([...args, '--json'], options)
    return JSON.parse(String(result.stdout)) as T
  }

  async jsonLines<T = Record<string, unknown>>(args: string[], options: CliOptions = {}): Promise<T[]> {
    const result = await this.ok([...args, '--json'], options)
    return String(result.stdout)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as T)
  }
}

/** Small helpers shared by the end-to-end tests (not a test file itself). */
import {execa, type Result} from 'execa'
import {createHash} from 'node:crypto'
import {mkdirSync, watch} from 'node:fs'
import {join} from 'node:path'
import {expect} from 'vitest'
import {BIN, Plakar, scratch} from '../support/cli.js'

export interface Env {
  s: {dir: string; cleanup: () => void}
  plakar: Plakar
  repo: string
  /** `plakar at REPO …` */
  at: (...args: string[]) => string[]
}

/** A scratch directory, an isolated plakar and the path of a repository (not yet created). */
export function setup(prefix = 'plakar-e2e-'): Env {
  const s = scratch(prefix)
  const plakar = userPlakar(s.dir)
  const repo = join(s.dir, 'repo')
  return {s, plakar, repo, at: (...args: string[]) => ['at', repo, ...args]}
}

/**
 * An isolated plakar that sees the environment a user has, not vitest's: vitest sets
 * NODE_ENV=test, which makes oclif print development-only warnings.
 */
export function userPlakar(home: string, env: Record<string, string> = {}): Plakar {
  return new Plakar(home, {NODE_ENV: undefined as unknown as string, ...env})
}

/** What `backup --json` prints (docs/json.md). */
export interface BackupJson {
  id: string
  files: number
  directories: number
  errors: number
  size: number
  addedBytes: number
  durationMs: number
  checkProblems?: number
}

export async function backup(env: Env, args: string[], options: {expected?: number} = {}): Promise<BackupJson> {
  const r = await env.plakar.ok(env.at('backup', '--json', ...args), options)
  return JSON.parse(String(r.stdout)) as BackupJson
}

/** Runs `plakar …` and hashes its stdout as it streams, never holding it in memory. */
export async function streamStdout(plakar: Plakar, args: string[]): Promise<{sha256: string; bytes: number; exitCode?: number; stderr: string}> {
  const hash = createHash('sha256')
  let bytes = 0
  const proc = execa('node', [BIN, ...args], {
    env: plakar.env,
    extendEnv: true,
    reject: false,
    cwd: plakar.home,
    buffer: {stdout: false, stderr: true},
    encoding: 'buffer',
  })
  proc.stdout!.on('data', (chunk: Buffer) => {
    hash.update(chunk)
    bytes += chunk.length
  })
  const r = await proc
  return {sha256: hash.digest('hex'), bytes, exitCode: r.exitCode, stderr: Buffer.from(r.stderr as unknown as Uint8Array).toString('utf8')}
}

/**
 * A failure a user can read: the exit code documented for it, and exactly one line on stderr,
 * with no stack trace.
 */
export function expectOneLineError(r: Result, code: number, pattern?: RegExp): void {
  const stderr = String(r.stderr)
  const context = `exit ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${stderr}`
  expect(r.exitCode, context).toBe(code)
  const lines = stderr.split('\n').filter((l) => l.trim() !== '')
  expect(lines, context).toHaveLength(1)
  expect(stderr, context).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m)
  expect(stderr, context).not.toMatch(/Error:|TypeError|ReferenceError|node:internal/)
  if (pattern) expect(lines[0], context).toMatch(pattern)
}

/** Runs plakar as another (unprivileged) user, with the isolated environment of `plakar`. */
export function runAs(plakar: Plakar, uid: number, gid: number, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return execa('node', [BIN, ...args], {
    env: {...plakar.env, ...env},
    extendEnv: true,
    reject: false,
    cwd: plakar.home,
    uid,
    gid,
    timeout: 300_000,
    encoding: 'utf8',
    stripFinalNewline: false,
  })
}

/** Resolves once `test` holds, checked on each change in `dir` (created if missing). */
export function waitForFile(dir: string, test: () => boolean): Promise<void> {
  mkdirSync(dir, {recursive: true})
  return new Promise((resolve) => {
    let done = false
    const check = () => {
      if (done || !test()) return
      done = true
      watcher.close()
      resolve()
    }
    const watcher = watch(dir, check)
    check()
  })
}

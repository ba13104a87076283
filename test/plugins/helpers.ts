/** Helpers of the plugin tests (not a test file): npm, verdaccio, scaffolded packages, isolated plakars. */
import {execa, type Result} from 'execa'
import {mkdirSync} from 'node:fs'
import {access, mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {Plakar, ROOT} from '../support/cli.js'
import {userPlakar} from '../e2e/helpers.js'

/** The private registry of the run (test/support/services/verdaccio.ts). */
export function registry(): {url: string; token: string; work: string} {
  const {VERDACCIO_URL: url, VERDACCIO_TOKEN: token, VERDACCIO_WORK: work} = process.env
  if (!url || !token || !work) throw new Error('verdaccio is not running: run with PLAKAR_TEST_SERVICES including "verdaccio"')
  return {url, token, work}
}

/**
 * The environment of an npm command run by a plugin developer: this machine's HOME (its npm
 * cache and ~/.npmrc), without the npm_* variables `npm test` exports to its children (with
 * them, npm would take /work/main for the project it runs in), and with a publish token for
 * the test registry.
 */
export function developerEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {}
  for (const key of Object.keys(process.env)) if (/^npm_/i.test(key) || key === 'INIT_CWD') env[key] = undefined
  const {url, token} = registry()
  env[`npm_config_${url.replace(/^https?:/, '')}:_authToken`] = token
  return {...env, NODE_ENV: undefined, ...extra}
}

/** Runs npm in `cwd` as a developer would; fails the test with npm's output if it fails. */
export async function npm(cwd: string, args: string[], options: {env?: Record<string, string | undefined>; reject?: boolean} = {}): Promise<Result> {
  const r = await execa('npm', [...args, '--no-audit', '--no-fund', '--loglevel=warn'], {
    cwd,
    env: developerEnv(options.env),
    extendEnv: true,
    reject: false,
    encoding: 'utf8',
    timeout: 600_000,
  })
  if (r.exitCode !== 0 && options.reject !== false) throw new Error(`npm ${args.join(' ')} in ${cwd} exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`)
  return r
}

/**
 * `npm install` in a generated plugin: @plakar/sdk from the tarball plakar scaffolded into its
 * vendor/ (the @plakar scope points at a registry that does not answer, so it can come from
 * nowhere else), the toolchain from this machine's npm cache.
 */
export async function installDependencies(dir: string): Promise<void> {
  await npm(dir, ['install', '--prefer-offline'], {env: {'npm_config_@plakar:registry': 'http://127.0.0.1:9/'}})
}

/** npm pack in `dir` (which runs its prepack script); returns the absolute path of the tarball. */
export async function pack(dir: string, destination = dir): Promise<string> {
  const {name, version} = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {name: string; version: string}
  await npm(dir, ['pack', '--pack-destination', destination])
  const tarball = join(destination, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`)
  await access(tarball)
  return tarball
}

/** Publishes a tarball to the test registry; publishing the same version again is not an error. */
export async function publish(tarball: string): Promise<void> {
  const r = await npm(join(tarball, '..'), ['publish', tarball, '--registry', registry().url], {reject: false})
  if (r.exitCode !== 0 && !/EPUBLISHCONFLICT|cannot publish over|409/i.test(`${r.stdout}${r.stderr}`)) {
    throw new Error(`npm publish ${tarball} exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`)
  }
}

let corePublished: Promise<void> | undefined

/** @plakar/sdk of this checkout (its built dist/), packed and published to the test registry once. */
export function publishSdk(): Promise<void> {
  corePublished ??= (async () => {
    const {version} = JSON.parse(await readFile(join(ROOT, 'core', 'sdk', 'package.json'), 'utf8')) as {version: string}
    const view = await npm(ROOT, ['view', `@plakar/sdk@${version}`, 'version', '--registry', registry().url], {reject: false})
    if (view.exitCode === 0 && String(view.stdout).trim() === version) return
    const out = join(registry().work, 'sdk-tarball')
    await mkdir(out, {recursive: true})
    await publish(await pack(join(ROOT, 'core', 'sdk'), out))
  })()
  return corePublished
}

/**
 * A plakar with its own HOME, configuration, cache and data directory (where plugins are
 * installed): the user's real plugins are never seen nor touched. The npm that `plakar plugins`
 * runs sees no npm_* variable of the test runner and uses a cache inside that HOME.
 */
export function isolatedPlakar(home: string, env: Record<string, string> = {}): Plakar {
  mkdirSync(join(home, 'data'), {recursive: true})
  const scrub: Record<string, string> = {}
  for (const key of Object.keys(process.env)) if (/^npm_/i.test(key) || key === 'INIT_CWD') scrub[key] = undefined as unknown as string
  return userPlakar(home, {
    ...scrub,
    PLAKAR_DATA_DIR: join(home, 'data'),
    XDG_DATA_HOME: join(home, 'xdg-data'),
    PLAKAR_NPM_REGISTRY: undefined as unknown as string,
    ...env,
  })
}

/** Writes a small plugin package by hand (for the broken-plugin cases): package.json and files. */
export async function writePackage(dir: string, pjson: Record<string, unknown>, files: Record<string, string> = {}): Promise<string> {
  await mkdir(dir, {recursive: true})
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({version: '1.0.0', type: 'module', oclif: {}, ...pjson}, null, 2)}\n`)
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), {recursive: true})
    await writeFile(join(dir, file), text)
  }
  return dir
}

/** Lines of a stream that are not blank. */
export function lines(text: unknown): string[] {
  return String(text)
    .split('\n')
    .filter((l) => l.trim() !== '')
}

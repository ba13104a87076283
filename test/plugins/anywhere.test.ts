import {readFile, rm} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {stripVTControlCharacters} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ROOT, scratch} from '../support/cli.js'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {isolatedPlakar, npm, pack, publishSdk, registry} from './helpers.js'

/**
 * Plugins from anywhere: what a company writing an in-house importer does, with only plakar
 * installed. `plakar scaffold` in a directory outside the checkout; `npm install` takes the SDK
 * from the copy plakar ships (vendor/), with the @plakar scope pointed at a registry that does not
 * answer, so the SDK cannot come from anywhere else; `npm test`, `npm pack`, `plugins install
 * file:` and a backup through the plugin, restored and compared. Then the same package moved to
 * @plakar/sdk from a registry (verdaccio), with the commands docs/plugins.md gives, builds and
 * passes its tests again.
 */
const NAME = '@acme/plakar-importer-notes'
const SCHEME = 'notes'
/** Nothing listens on port 9 (discard): a registry that cannot serve anything. */
const NO_REGISTRY = {'npm_config_@plakar:registry': 'http://127.0.0.1:9/'}

const work = scratch('plakar-plugin-anywhere-')
const pkg = join(work.dir, 'src', 'plakar-importer-notes')
let tarball: string

beforeAll(() => {
  registry() // fails early and clearly without verdaccio
})
afterAll(() => work.cleanup())

describe('a plugin scaffolded outside the checkout', () => {
  it('installs its SDK from the tarball plakar ships, passes its suite and packs, unchanged', async () => {
    expect(relative(ROOT, work.dir).startsWith('..'), `${work.dir} is outside ${ROOT}`).toBe(true)
    const plakar = isolatedPlakar(join(work.dir, 'dev'))
    const out = await plakar.json<{written: string[]}>(['scaffold', 'importer', NAME, '--dir', pkg], {cwd: work.dir})
    const pjson = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'))
    const sdk = JSON.parse(await readFile(join(ROOT, 'core', 'sdk', 'package.json'), 'utf8')) as {version: string}
    expect(pjson.devDependencies['@plakar/sdk']).toBe(`file:vendor/plakar-sdk-${sdk.version}.tgz`)
    expect(out.written).toContain(`vendor/plakar-sdk-${sdk.version}.tgz`)

    await npm(pkg, ['install', '--prefer-offline'], {env: NO_REGISTRY})
    const installed = JSON.parse(await readFile(join(pkg, 'node_modules', '@plakar', 'sdk', 'package.json'), 'utf8'))
    expect(installed).toMatchObject({name: '@plakar/sdk', version: sdk.version})
    expect(installed.dependencies ?? {}).toEqual({})
    const test = await npm(pkg, ['test'], {env: NO_REGISTRY})
    expect(stripVTControlCharacters(String(test.stdout))).toMatch(/Tests\s+11 passed/)
    tarball = await pack(pkg)
  })

  it('installs with plugins install file:, and backs data up through its scheme', async () => {
    const home = join(work.dir, 'user')
    const plakar = isolatedPlakar(home)
    await plakar.ok(['plugins', 'install', `file:${tarball}`])
    const {connectors, problems} = await plakar.json<{connectors: {kind: string; schemes: string[]; plugin: string}[]; problems: string[]}>(['version'])
    expect(problems).toEqual([])
    expect(connectors).toContainEqual(expect.objectContaining({kind: 'importer', schemes: [SCHEME], plugin: NAME}))

    const source = join(home, 'notes')
    const tree = new TreeBuilder(source)
    await tree.dir('2024', {mode: 0o750})
    await tree.file('2024/monday.md', '# monday\n', {mode: 0o640, mtime: 1_700_000_000.5})
    await tree.randomFile('2024/scan.pdf', 1_500_000)
    await tree.file('todo.txt', 'backups\n')
    await tree.finish()
    const repo = join(home, 'repo')
    await plakar.ok(['at', repo, 'create'])
    const backup = await plakar.json<{id: string; files: number; errors: number}>(['at', repo, 'backup', `${SCHEME}:${source}`])
    expect(backup).toMatchObject({files: 3, errors: 0})
    const target = join(home, 'restored')
    await plakar.ok(['at', repo, 'restore', '--to', target, backup.id])
    expect(await compareTrees(source, target, {owner: false})).toEqual([])
  })

  it('builds and passes its tests against @plakar/sdk from a registry too (docs/plugins.md, route 2)', async () => {
    await publishSdk()
    const sdk = JSON.parse(await readFile(join(ROOT, 'core', 'sdk', 'package.json'), 'utf8')) as {version: string}
    const viaRegistry = {'npm_config_@plakar:registry': registry().url}
    // The commands of docs/plugins.md, as written there (npm's cache stands in for the network).
    const page = await readFile(join(ROOT, 'docs', 'plugins.md'), 'utf8')
    expect(page).toContain(
      `\`\`\`sh\nnpm pkg set devDependencies.@plakar/sdk=^${sdk.version}\nrm -rf vendor node_modules package-lock.json\nnpm install\nnpm test\n\`\`\``,
    )
    await npm(pkg, ['pkg', 'set', `devDependencies.@plakar/sdk=^${sdk.version}`], {env: viaRegistry})
    for (const path of ['vendor', 'node_modules', 'package-lock.json']) await rm(join(pkg, path), {recursive: true, force: true})
    await npm(pkg, ['install', '--prefer-offline'], {env: viaRegistry})
    const pjson = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'))
    expect(pjson.devDependencies['@plakar/sdk']).toBe(`^${sdk.version}`)
    const lock = JSON.parse(await readFile(join(pkg, 'package-lock.json'), 'utf8'))
    // Resolved by version from the registry of the @plakar scope (npm leaves such a registry's URL
    // out of the lockfile), not from a file.
    const locked = lock.packages['node_modules/@plakar/sdk'] as {version: string; resolved?: string; integrity: string}
    expect(locked.version).toBe(sdk.version)
    expect(locked.resolved ?? '').not.toMatch(/^file:/)
    expect(locked.integrity).toMatch(/^sha512-/)
    const test = await npm(pkg, ['test'], {env: viaRegistry})
    expect(stripVTControlCharacters(String(test.stdout))).toMatch(/Tests\s+11 passed/)
    await npm(pkg, ['run', 'build'], {env: viaRegistry})
    const schema = JSON.parse(await readFile(join(pkg, 'dist', 'importer.schema.json'), 'utf8'))
    expect(schema.type).toBe('object')
  })
})

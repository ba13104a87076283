import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {scratch} from '../support/cli.js'
import {isolatedPlakar, lines, writePackage} from './helpers.js'

/**
 * Broken plugins, really installed (`plakar plugins install file:DIR`) into an isolated plakar:
 * one whose connector module throws when imported, one with an invalid configuration schema,
 * one built for another contract version, two claiming one scheme, one claiming a first-party
 * scheme. Each problem is reported once per command, in one line naming the plugin; every other
 * plugin and command keeps working.
 */
const work = scratch('plakar-plugin-broken-')
afterAll(() => work.cleanup())

const okSchema = {type: 'object', properties: {}, additionalProperties: false}
const factory = `export default async function create(context) { throw new Error('not used in this test') }\n`
const declare = (contract: number, connectors: unknown[]) => ({plakar: {contract, connectors}})
const connector = (kind: string, scheme: string, schema: unknown = okSchema, module = './index.js') => ({kind, schemes: [scheme], module, schema})

const WARNINGS = [
  /^plakar: warning: plugin @acme\/plakar-badschema@1\.0\.0 is ignored: the configuration schema of its importer is invalid: .+$/,
  /^plakar: warning: plugin @acme\/plakar-future@1\.0\.0 is ignored: it is built for plugin contract 2 but this plakar speaks contract 1: install a release of @acme\/plakar-future made for contract 1$/,
  /^plakar: warning: the importer scheme "dup" is claimed by @acme\/plakar-dup-a and @acme\/plakar-dup-b: it is served by neither until all but one are uninstalled$/,
]

function expectWarningsOnce(stderr: unknown): string[] {
  const all = lines(stderr)
  for (const warning of WARNINGS) expect(all.filter((l) => warning.test(l)), `${warning} once in:\n${all.join('\n')}`).toHaveLength(1)
  return all.filter((l) => !WARNINGS.some((w) => w.test(l)))
}

/** The last line is the error: one line, no stack trace. */
function expectError(r: {exitCode?: number; stderr: unknown}, code: number, pattern: RegExp): void {
  const rest = expectWarningsOnce(r.stderr)
  expect(r.exitCode, String(r.stderr)).toBe(code)
  expect(rest, String(r.stderr)).toHaveLength(1)
  expect(rest[0]).toMatch(pattern)
  expect(String(r.stderr)).not.toMatch(/^\s+at /m)
}

const home = join(work.dir, 'home')
const plakar = isolatedPlakar(home)
const repo = join(home, 'repo')

beforeAll(async () => {
  const pkgs = join(work.dir, 'packages')
  const dirs = [
    await writePackage(join(pkgs, 'throws'), {name: '@acme/plakar-throws', ...declare(1, [connector('importer', 'throws')])}, {
      'index.js': `throw new Error('libfoo.so.1: cannot open shared object file')\n`,
    }),
    await writePackage(
      join(pkgs, 'badschema'),
      {name: '@acme/plakar-badschema', ...declare(1, [connector('importer', 'badschema', './schema.json')])},
      {'index.js': factory, 'schema.json': JSON.stringify({type: 'object', properties: {n: {type: 'nonsense'}}})},
    ),
    await writePackage(join(pkgs, 'future'), {name: '@acme/plakar-future', ...declare(2, [connector('storage', 'future')])}, {'index.js': factory}),
    await writePackage(join(pkgs, 'dup-a'), {name: '@acme/plakar-dup-a', ...declare(1, [connector('importer', 'dup')])}, {'index.js': factory}),
    await writePackage(join(pkgs, 'dup-b'), {name: '@acme/plakar-dup-b', ...declare(1, [connector('importer', 'dup'), connector('exporter', 'dupb')])}, {
      'index.js': factory,
    }),
  ]
  for (const dir of dirs) await plakar.ok(['plugins', 'install', `file:${dir}`])
  await writeFile(join(home, 'file.txt'), 'some data\n')
})

describe('broken plugins', () => {
  it('are installed from their directories, each under its own name', async () => {
    const listed = await plakar.jsonLines<{name: string; type: string; root: string}>(['plugins', 'ls'])
    expect(listed.map((p) => [p.name, p.type])).toEqual(
      ['badschema', 'dup-a', 'dup-b', 'future', 'throws'].map((n) => [`@acme/plakar-${n}`, 'user']),
    )
    for (const p of listed) expect(p.root.endsWith(p.name.replace('@acme/plakar-', ''))).toBe(true)
  })

  it('plakar version lists the working connectors and warns once about each problem', async () => {
    const r = await plakar.ok(['version'])
    expect(expectWarningsOnce(r.stderr)).toEqual([])
    const out = lines(r.stdout)
    expect(out.find((l) => /importer\s+throws\s+@acme\/plakar-throws@1\.0\.0\s+\(installed\)$/.test(l))).toBeDefined()
    expect(out.filter((l) => /importer\s+dup\s+@acme\/plakar-dup-[ab]@1\.0\.0\s+\(installed\) \(conflict on dup: not used\)$/.test(l))).toHaveLength(2)
    expect(out.find((l) => /exporter\s+dupb\s+@acme\/plakar-dup-b@1\.0\.0\s+\(installed\)$/.test(l))).toBeDefined()
    expect(out.some((l) => /badschema|future/.test(l))).toBe(false)
    expect(out.find((l) => /storage\s+fs\s+@plakar\/plugin-fs/.test(l))).toBeDefined()

    const json = await plakar.json<{conflicts: unknown[]; problems: string[]}>(['version'])
    expect(json.conflicts).toEqual([{kind: 'importer', scheme: 'dup', plugins: ['@acme/plakar-dup-a', '@acme/plakar-dup-b']}])
    expect(json.problems).toHaveLength(3)
  })

  it('the rest of the CLI works: a backup and a restore through fs, each problem still reported once', async () => {
    expectWarningsOnce((await plakar.ok(['at', repo, 'create'])).stderr)
    const backup = await plakar.ok(['at', repo, 'backup', home])
    expectWarningsOnce(backup.stderr)
    await plakar.ok(['at', repo, 'restore', '--to', join(work.dir, 'restored')])
    expect(await plakar.ok(['help']).then((r) => r.exitCode)).toBe(0)
  })

  it('a connector that throws when imported fails only when its scheme is used, in one line naming the plugin', async () => {
    expectError(await plakar.run(['at', repo, 'backup', 'throws:/x']), 1, /^plakar: the importer of plugin @acme\/plakar-throws fails to load: libfoo\.so\.1: cannot open shared object file$/)
  })

  it('plugins ls --check imports every connector and names the one that fails (exit 1)', async () => {
    const r = await plakar.run(['plugins', 'ls', '--check'])
    expect(r.exitCode).toBe(1)
    expect(lines(r.stdout).find((l) => l.startsWith('@acme/plakar-throws@1.0.0'))).toMatch(
      /installed\s+importer throws \(fails to load: libfoo\.so\.1: cannot open shared object file\)$/,
    )
    const out = await plakar.run(['plugins', 'ls', '--check', '--json'])
    const rows = lines(out.stdout).map((l) => JSON.parse(l) as {name: string; connectors: {error?: string}[]})
    expect(rows.find((p) => p.name === '@acme/plakar-throws')!.connectors).toEqual([{kind: 'importer', schemes: ['throws'], error: 'libfoo.so.1: cannot open shared object file'}])
    expect(rows.find((p) => p.name === '@acme/plakar-dup-a')!.connectors).toEqual([{kind: 'importer', schemes: ['dup']}])
  })

  it('an invalid schema or another contract version leaves the scheme unknown', async () => {
    expectError(await plakar.run(['at', repo, 'backup', 'badschema:/x']), 2, /^plakar: unknown importer scheme "badschema"/)
    expectError(await plakar.run(['at', 'future:/x', 'ls']), 2, /^plakar: unknown storage scheme "future"/)
  })

  it('a scheme two plugins claim is served by neither: one line naming both', async () => {
    expectError(
      await plakar.run(['at', repo, 'backup', 'dup:/x']),
      2,
      /^plakar: the importer scheme "dup" is claimed by several plugins \(@acme\/plakar-dup-a, @acme\/plakar-dup-b\): uninstall all but one$/,
    )
  })

  it('uninstalled, they leave no trace', async () => {
    for (const name of ['throws', 'badschema', 'future', 'dup-a', 'dup-b']) await plakar.ok(['plugins', 'uninstall', `@acme/plakar-${name}`])
    const r = await plakar.ok(['version'])
    expect(lines(r.stderr)).toEqual([])
    expect(String(r.stdout)).not.toContain('@acme')
  })
})

describe('a plugin claiming a first-party scheme', () => {
  it('disables it, loudly, until it is uninstalled', async () => {
    const h = join(work.dir, 'thief')
    const p = isolatedPlakar(h)
    const dir = await writePackage(join(work.dir, 'packages', 'thief'), {name: 'plakar-fs-thief', ...declare(1, [connector('storage', 'fs')])}, {'index.js': factory})
    await p.ok(['plugins', 'install', `file:${dir}`])
    const r = await p.run(['at', join(h, 'repo'), 'create'])
    expect(r.exitCode).toBe(2)
    const stderr = lines(r.stderr)
    expect(stderr).toEqual([
      'plakar: warning: the storage scheme "fs" is claimed by @plakar/plugin-fs and plakar-fs-thief: it is served by neither until all but one are uninstalled',
      'plakar: the storage scheme "fs" is claimed by several plugins (@plakar/plugin-fs, plakar-fs-thief): uninstall all but one',
    ])
    await p.ok(['plugins', 'uninstall', 'plakar-fs-thief'])
    await p.ok(['at', join(h, 'repo'), 'create'])
  })

  it('a package that is not an oclif plugin is refused by plugins install', async () => {
    const h = join(work.dir, 'not-a-plugin')
    const p = isolatedPlakar(h)
    const dir = await writePackage(join(work.dir, 'packages', 'plain'), {name: 'plain-library', oclif: undefined, ...declare(1, [connector('importer', 'plain')])}, {'index.js': factory})
    const r = await p.run(['plugins', 'install', `file:${dir}`])
    expect(r.exitCode).toBe(1)
    expect(String(r.stderr)).toMatch(/plugin is invalid/)
    expect(await p.jsonLines(['plugins', 'ls'])).toEqual([])
  })
})

import {mkdir, readFile, readdir, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {stripVTControlCharacters} from 'node:util'
import {afterAll, describe, expect, it} from 'vitest'
import {ROOT, scratch} from '../support/cli.js'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {expectOneLineError} from '../e2e/helpers.js'
import {installDependencies, isolatedPlakar, npm, pack} from './helpers.js'

/**
 * `plakar scaffold` and the exporter and storage templates: the generated packages install,
 * pass their SDK conformance suites, build and pack without any edit, install into plakar, and
 * work there (a repository on the scaffolded storage, a restore through the scaffolded exporter).
 */
const work = scratch('plakar-plugin-templates-')
afterAll(() => work.cleanup())

const KINDS = ['importer', 'exporter', 'storage'] as const

describe('templates/', () => {
  it('share one build, tsconfig and .gitignore, and pin the toolchain plakar itself builds with', async () => {
    const root = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    for (const file of ['build.mjs', 'tsconfig.json', 'gitignore']) {
      const [first, ...others] = await Promise.all(KINDS.map((k) => readFile(join(ROOT, 'templates', k, file), 'utf8')))
      for (const other of others) expect(other, `templates/*/${file} differ`).toBe(first)
    }
    for (const kind of KINDS) {
      const pjson = JSON.parse(await readFile(join(ROOT, 'templates', kind, 'package.json'), 'utf8'))
      expect(pjson.plakar.connectors).toHaveLength(1)
      expect(pjson.plakar.connectors[0]).toMatchObject({kind, module: `./dist/${kind}.js`, schema: `./dist/${kind}.schema.json`})
      expect(pjson.oclif).toEqual({})
      for (const tool of ['typescript', 'vitest', '@types/node']) expect(pjson.devDependencies[tool], `${kind}: ${tool}`).toBe(root.devDependencies[tool])
      expect(pjson.dependencies, 'a generated plugin installs with no dependency').toEqual({})
    }
  })
})

describe('plakar scaffold', () => {
  const plakar = isolatedPlakar(join(work.dir, 'cli'))

  it('derives the directory and the scheme from the name, and reports what it wrote', async () => {
    const cwd = join(work.dir, 'here')
    await mkdir(cwd)
    const out = await plakar.json<{name: string; kind: string; scheme: string; directory: string; contract: number; written: string[]}>(
      ['scaffold', 'importer', '@acme/plakar-importer-crm'],
      {cwd},
    )
    expect(out).toMatchObject({name: '@acme/plakar-importer-crm', kind: 'importer', scheme: 'crm', directory: join(cwd, 'plakar-importer-crm'), contract: 1})
    expect(out.written).toEqual(expect.arrayContaining(['.gitignore', 'README.md', 'build.mjs', 'package.json', 'src/config.ts', 'src/importer.ts', 'src/source.ts', 'test/importer.test.ts']))
    const pjson = JSON.parse(await readFile(join(out.directory, 'package.json'), 'utf8'))
    expect(pjson).toMatchObject({name: '@acme/plakar-importer-crm', version: '0.1.0', plakar: {contract: 1, connectors: [{kind: 'importer', schemes: ['crm']}]}})
    expect(pjson.devDependencies['@plakar/sdk']).toMatch(/^file:vendor\/plakar-sdk-\d+\.\d+\.\d+\.tgz$/)
    const everything = await Promise.all(out.written.map((f) => readFile(join(out.directory, f), 'utf8')))
    expect(everything.filter((text) => /\{\{\w+\}\}/.test(text)), 'placeholders left').toEqual([])
    expect(await readFile(join(out.directory, 'README.md'), 'utf8')).toContain('file:/path/to/acme-plakar-importer-crm-0.1.0.tgz')
  })

  it('refuses a bad kind, a bad name, a bad scheme (exit 2) and a non-empty directory (exit 1)', async () => {
    expectOneLineError(await plakar.run(['scaffold', 'transmogrifier', 'x']), 2)
    expectOneLineError(await plakar.run(['scaffold', 'importer', 'Not A Name']), 2, /not a valid npm package name/)
    expectOneLineError(await plakar.run(['scaffold', 'storage', 'x', '--scheme', 'Bad Scheme', '--dir', join(work.dir, 'bad')]), 2, /not a valid scheme/)
    expectOneLineError(await plakar.run(['scaffold', 'storage', 'plakar-storage-', '--dir', join(work.dir, 'bad')]), 2, /--scheme/)
    const busy = join(work.dir, 'busy')
    await mkdir(busy)
    await writeFile(join(busy, 'keep.txt'), 'mine')
    expectOneLineError(await plakar.run(['scaffold', 'exporter', 'x', '--dir', busy]), 1, /not an empty directory/)
    expect(await readdir(busy)).toEqual(['keep.txt'])
  })

  it('warns when the scheme is already served for that kind', async () => {
    const r = await plakar.ok(['scaffold', 'storage', 'my-fs', '--scheme', 'fs', '--dir', join(work.dir, 'fs-again')])
    expect(String(r.stderr)).toMatch(/warning: the storage scheme "fs" is already served by @plakar\/plugin-fs/)
  })
})

describe('scaffolded exporter and storage, unchanged', () => {
  const exporter = join(work.dir, 'plakar-exporter-vault')
  const storage = join(work.dir, 'plakar-storage-vault')
  const tarballs: string[] = []

  for (const [kind, dir, tests] of [
    // The exporter template has no storeFiles(): that test of the suite is skipped.
    ['exporter', exporter, 14],
    // The storage template has no readInto(): that test of the suite is skipped.
    ['storage', storage, 33],
  ] as const) {
    it(`${kind}: installs, passes the SDK conformance suite, builds and packs`, async () => {
      const plakar = isolatedPlakar(join(work.dir, 'cli'))
      await plakar.ok(['scaffold', kind, `@acme/plakar-${kind}-vault`, '--scheme', `vault-${kind.slice(0, 3)}`, '--dir', dir])
      await installDependencies(dir)
      const r = await npm(dir, ['test'])
      expect(stripVTControlCharacters(String(r.stdout))).toMatch(new RegExp(`Tests\\s+${tests} passed`))
      tarballs.push(await pack(dir))
    })
  }

  it('both install from their tarballs; a repository on the storage, restored through the exporter', async () => {
    const home = join(work.dir, 'user')
    const plakar = isolatedPlakar(home)
    // Plain paths work too (oclif alone would read them as GitHub repositories): absolute, and relative.
    await plakar.ok(['plugins', 'install', tarballs[0]])
    await plakar.ok(['plugins', 'install', `./${basename(tarballs[1])}`], {cwd: dirname(tarballs[1])})
    const {connectors, problems} = await plakar.json<{connectors: {kind: string; schemes: string[]; plugin: string}[]; problems: string[]}>(['version'])
    expect(problems).toEqual([])
    expect(connectors).toContainEqual(expect.objectContaining({kind: 'exporter', schemes: ['vault-exp'], plugin: '@acme/plakar-exporter-vault'}))
    expect(connectors).toContainEqual(expect.objectContaining({kind: 'storage', schemes: ['vault-sto'], plugin: '@acme/plakar-storage-vault'}))

    const source = join(home, 'source')
    const tree = new TreeBuilder(source)
    await tree.dir('docs', {mode: 0o750, mtime: 1_600_000_000.25})
    await tree.file('docs/a.txt', 'alpha\n', {mode: 0o640, mtime: 1_600_000_100.5})
    await tree.randomFile('docs/b.bin', 3_000_000)
    await tree.symlink('docs/link', 'a.txt')
    await tree.dir('empty')
    await tree.file('top.txt', 'top\n')
    await tree.finish()
    const repo = `vault-sto:${join(home, 'repository')}`
    await plakar.ok(['at', repo, 'create'])
    await plakar.ok(['at', repo, '-o', 'fsync=false', 'backup', source])
    const [snapshot] = await plakar.jsonLines<{id: string}>(['at', repo, 'ls'])
    await plakar.ok(['at', repo, 'check'])
    const target = join(home, 'restored')
    await plakar.ok(['at', repo, 'restore', '--to', `vault-exp:${target}`, snapshot.id])
    expect(await compareTrees(source, target, {owner: false})).toEqual([])
    expectOneLineError(await plakar.run(['at', repo, '-o', 'fsync=maybe', 'ls']), 2, /option "fsync" must be boolean/)
  })
})

import {readFile, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {stripVTControlCharacters} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ROOT, scratch} from '../support/cli.js'
import {expectOneLineError} from '../e2e/helpers.js'
import {installDependencies, isolatedPlakar, lines, npm, pack, publish, registry} from './helpers.js'

/**
 * The life of an in-house importer, end to end: `plakar scaffold importer`, the generated package
 * installed, tested and built unchanged; then filled in with the worked example of
 * docs/plugins.md (an importer for a JSON documents API, its code taken from the page itself),
 * tested, packed, installed into an isolated plakar from the file: tarball, used for a backup
 * and a restore compared file by file, uninstalled (its scheme then unknown). Then the same
 * plugin published to the local verdaccio and installed by name, through PLAKAR_NPM_REGISTRY
 * and through a .npmrc in plakar's data directory, upgraded with `plugins update`, and linked.
 */
const NAME = '@acme/plakar-importer-jsondocs'
const SCHEME = 'jsondocs'
const TOKEN = 'tok-3f9a1c7d'

type Document = {type: 'directory'; modified?: string} | {type: 'file'; content: Buffer; modified?: string}
type Server = {port: number; close: () => Promise<void>}

const work = scratch('plakar-plugin-importer-')
const pkg = join(work.dir, 'plakar-importer-jsondocs')
let tarball: string
let server: Server

/** The documents the fake API serves: nested folders, unicode, an empty document, a 2 MiB one. */
const documents = new Map<string, Document>([
  ['/customers', {type: 'directory', modified: '2024-03-01T10:00:00.000Z'}],
  ['/customers/1.json', {type: 'file', content: Buffer.from('{"id":1,"name":"Ada"}\n'), modified: '2024-03-02T11:00:00.000Z'}],
  ['/customers/2.json', {type: 'file', content: Buffer.from('{"id":2,"name":"Zoë"}\n'), modified: '2024-03-03T12:00:00.000Z'}],
  ['/customers/archive', {type: 'directory'}],
  ['/customers/archive/old customer #3.json', {type: 'file', content: Buffer.from('{"id":3}\n')}],
  ['/orders', {type: 'directory'}],
  ['/orders/2024', {type: 'directory'}],
  ['/orders/2024/empty.json', {type: 'file', content: Buffer.alloc(0)}],
  ['/orders/2024/big.json', {type: 'file', content: Buffer.from(JSON.stringify({lines: Array.from({length: 40_000}, (_, i) => ({i, sku: `SKU-${i}`}))}))}],
  ['/empty-folder', {type: 'directory'}],
])

/** The files of the worked example, as docs/plugins.md shows them (`<!-- file: PATH -->` before a fenced block). */
async function workedExample(): Promise<Map<string, string>> {
  const page = await readFile(join(ROOT, 'docs', 'plugins.md'), 'utf8')
  const files = new Map<string, string>()
  for (const m of page.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)) files.set(m[1], `${m[2]}\n`)
  return files
}

/** What `plakar restore` wrote, as path → content. */
async function readTree(root: string, rel = ''): Promise<Map<string, Buffer | 'directory'>> {
  const out = new Map<string, Buffer | 'directory'>()
  for (const entry of await readdir(join(root, rel), {withFileTypes: true})) {
    const path = `${rel}/${entry.name}`
    if (entry.isDirectory()) {
      out.set(path, 'directory')
      for (const [p, v] of await readTree(root, path)) out.set(p, v)
    } else out.set(path, await readFile(join(root, path)))
  }
  return out
}

function expectedTree(under: string): Map<string, Buffer | 'directory'> {
  const out = new Map<string, Buffer | 'directory'>()
  for (const [path, doc] of documents) {
    if (under !== '/' && !path.startsWith(`${under}/`)) continue
    out.set(under === '/' ? path : path.slice(under.length), doc.type === 'directory' ? 'directory' : doc.content)
  }
  return out
}

beforeAll(() => {
  registry() // fails early and clearly without verdaccio
})

afterAll(async () => {
  await server?.close()
  work.cleanup()
})

describe('an importer plugin from scaffold to backup', () => {
  it('scaffolds a package that installs, passes its conformance suite and builds, unchanged', async () => {
    const plakar = isolatedPlakar(join(work.dir, 'dev'))
    const r = await plakar.ok(['scaffold', 'importer', NAME, '--scheme', SCHEME, '--dir', pkg])
    expect(String(r.stdout)).toContain(`created ${NAME}`)
    await installDependencies(pkg)
    const test = await npm(pkg, ['test'])
    expect(stripVTControlCharacters(String(test.stdout))).toMatch(/Tests\s+11 passed/)
    await npm(pkg, ['run', 'build'])
    const schema = JSON.parse(await readFile(join(pkg, 'dist', 'importer.schema.json'), 'utf8'))
    expect(schema.properties.exclude_hidden).toMatchObject({type: 'boolean', default: false})
  })

  it('filled in with the worked example of docs/plugins.md, passes the suite against its fake API and packs', async () => {
    const files = await workedExample()
    expect([...files.keys()].sort()).toEqual(['src/config.ts', 'src/source.ts', 'test/importer.test.ts', 'test/server.ts'])
    for (const [path, text] of files) await writeFile(join(pkg, path), text)
    const test = await npm(pkg, ['test'])
    expect(stripVTControlCharacters(String(test.stdout))).toMatch(/Tests\s+10 passed/)
    tarball = await pack(pkg)
    const {startServer} = (await import(pathToFileURL(join(pkg, 'test', 'server.ts')).href)) as {
      startServer: (d: Map<string, Document>, o: {token: string; busy?: number}) => Promise<Server>
    }
    server = await startServer(documents, {token: TOKEN, busy: 3})
  })

  it('installs from the file: tarball into an isolated data directory, backs up through its scheme, restores, uninstalls', async () => {
    const home = join(work.dir, 'user')
    const plakar = isolatedPlakar(home)
    const repo = join(home, 'repo')
    const location = `${SCHEME}://127.0.0.1:${server.port}/`

    await plakar.ok(['plugins', 'install', `file:${tarball}`])
    const version = await plakar.json<{connectors: {kind: string; schemes: string[]; plugin: string; version: string; source: string}[]; problems: string[]}>([
      'version',
    ])
    expect(version.connectors).toContainEqual({kind: 'importer', schemes: [SCHEME], plugin: NAME, version: '0.1.0', source: 'user', description: expect.any(String)})
    expect(version.problems).toEqual([])
    // The same discovery path as first-party plugins: both are in the one list.
    expect(version.connectors.map((c) => c.plugin)).toContain('@plakar/plugin-fs')
    const listed = await plakar.jsonLines<{name: string; type: string; connectors: unknown[]}>(['plugins', 'ls'])
    expect(listed).toEqual([expect.objectContaining({name: NAME, type: 'user', connectors: [{kind: 'importer', schemes: [SCHEME]}]})])

    await plakar.ok(['at', repo, 'create'])
    // Options are checked against the plugin's schema before any of its code runs.
    expectOneLineError(await plakar.run(['at', repo, 'backup', '-o', 'tls=false', location]), 2, /missing option "token"/)
    // A refused token is the plugin's AuthError: exit 77, one line.
    expectOneLineError(await plakar.run(['at', repo, 'backup', '-o', 'token=wrong', '-o', 'tls=false', location]), 77, /refused the token/)

    const backup = await plakar.json<{id: string; files: number; errors: number}>(['at', repo, 'backup', '-o', `token=${TOKEN}`, '-o', 'tls=false', location])
    expect(backup.errors).toBe(0)
    expect(backup.files).toBe([...documents.values()].filter((d) => d.type === 'file').length)
    const out = join(home, 'restored')
    await plakar.ok(['at', repo, 'restore', '--to', out, backup.id])
    expect(await readTree(out)).toEqual(expectedTree('/'))
    const lsOutput = String((await plakar.ok(['at', repo, 'ls', '--json'])).stdout)
    expect(lsOutput, 'the token never reaches the listing').not.toContain(TOKEN)

    // A subtree, and a second backup of it: the parent is found by type, origin and root.
    const sub = `${SCHEME}://127.0.0.1:${server.port}/customers`
    for (let i = 0; i < 2; i++) await plakar.ok(['at', repo, 'backup', '-o', `token=${TOKEN}`, '-o', 'tls=false', sub])
    const snapshots = await plakar.jsonLines<{id: string}>(['at', repo, 'ls'])
    const out2 = join(home, 'restored-customers')
    await plakar.ok(['at', repo, 'restore', '--to', out2, snapshots.at(-1)!.id])
    expect(await readTree(out2)).toEqual(expectedTree('/customers'))

    const un = await plakar.ok(['plugins', 'uninstall', NAME])
    expect(un.exitCode).toBe(0)
    expectOneLineError(await plakar.run(['at', repo, 'backup', '-o', `token=${TOKEN}`, location]), 2, new RegExp(`unknown importer scheme "${SCHEME}"`))
    expect(await plakar.jsonLines(['plugins', 'ls'])).toEqual([])
    // The repository and its snapshots do not depend on the plugin.
    await plakar.ok(['at', repo, 'check'])
  })

  it('published to a private registry (verdaccio), installs by name, updates and uninstalls', async () => {
    const {url} = registry()
    await publish(tarball)
    const home = join(work.dir, 'registry-user')
    const location = `${SCHEME}://127.0.0.1:${server.port}/orders`

    // 1. PLAKAR_NPM_REGISTRY: every package from there (npm is given --registry).
    const viaEnv = isolatedPlakar(home, {PLAKAR_NPM_REGISTRY: url})
    await viaEnv.ok(['plugins', 'install', NAME])
    expect(lines((await viaEnv.ok(['version'])).stdout).find((l) => l.includes(NAME))).toMatch(new RegExp(`importer\\s+${SCHEME}\\s+${NAME}@0\\.1\\.0\\s+\\(installed\\)`))
    await viaEnv.ok(['at', join(home, 'repo'), 'create'])
    const b = await viaEnv.json<{errors: number; files: number}>(['at', join(home, 'repo'), 'backup', '-o', `token=${TOKEN}`, '-o', 'tls=false', location])
    expect(b).toMatchObject({errors: 0, files: 2})
    await viaEnv.ok(['plugins', 'uninstall', NAME])

    // 2. A .npmrc in plakar's data directory routing the @acme scope (npm runs there).
    const plakar = isolatedPlakar(home)
    await writeFile(join(home, 'data', '.npmrc'), `@acme:registry=${url}\n`)
    await plakar.ok(['plugins', 'install', NAME])
    expect(await plakar.jsonLines(['plugins', 'ls'])).toEqual([expect.objectContaining({name: NAME, version: '0.1.0', type: 'user'})])
    const pjson = JSON.parse(await readFile(join(home, 'data', 'package.json'), 'utf8'))
    expect(pjson.dependencies[NAME]).toBe('^0.1.0')

    // 3. A new release, then `plugins update`.
    const manifest = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'))
    await writeFile(join(pkg, 'package.json'), `${JSON.stringify({...manifest, version: '0.2.0'}, null, 2)}\n`)
    await publish(await pack(pkg))
    await plakar.ok(['plugins', 'update'])
    expect(await plakar.jsonLines(['plugins', 'ls'])).toEqual([expect.objectContaining({name: NAME, version: '0.2.0'})])
    const b2 = await plakar.json<{errors: number}>(['at', join(home, 'repo'), 'backup', '-o', `token=${TOKEN}`, '-o', 'tls=false', location])
    expect(b2.errors).toBe(0)
    await plakar.ok(['plugins', 'uninstall', NAME])
    expect(await plakar.jsonLines(['plugins', 'ls'])).toEqual([])
  })

  it('a working copy linked with plugins link is used in place, and unlinked', async () => {
    const home = join(work.dir, 'developer')
    const plakar = isolatedPlakar(home)
    await plakar.ok(['plugins', 'link', pkg, '--no-install'])
    const version = await plakar.json<{connectors: {plugin: string; source: string; version: string}[]}>(['version'])
    expect(version.connectors).toContainEqual(expect.objectContaining({plugin: NAME, source: 'link', version: '0.2.0'}))
    expect(lines((await plakar.ok(['version'])).stdout).find((l) => l.includes(NAME))).toMatch(/\s\(linked\)( |$)/)
    await plakar.ok(['plugins', 'unlink', NAME])
    expect((await plakar.json<{connectors: {plugin: string}[]}>(['version'])).connectors.map((c) => c.plugin)).not.toContain(NAME)
  })
})

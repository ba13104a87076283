import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CONTRACT_VERSION, ExitCode, exitCodeOf} from '@plakar/sdk'
import {ConnectorRegistry, type PluginDescriptor} from '../../src/connectors/registry.js'

let base: string

const okSchema = {type: 'object', additionalProperties: false, properties: {token: {type: 'string'}, region: {type: 'string'}}}

/** Writes a plugin package directory: package.json, schema files and modules. */
async function plugin(name: string, plakar: unknown, files: Record<string, string> = {}): Promise<PluginDescriptor> {
  const root = join(base, name.replace('/', '__'))
  await mkdir(root, {recursive: true})
  const pjson = {name, version: '1.2.3', type: 'module', plakar}
  await writeFile(join(root, 'package.json'), JSON.stringify(pjson))
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(root, file, '..'), {recursive: true})
    await writeFile(join(root, file), text)
  }
  return {name, version: '1.2.3', root, pjson}
}

const factory = `export default async function create(context) { return {kind: 'made', location: context.location} }\n`

function connector(kind: string, schemes: string[], module = './importer.js', schema: unknown = './schema.json') {
  return {kind, schemes, module, schema}
}

describe('connector registry', () => {
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'plakar-registry-'))
  })
  afterAll(() => rm(base, {recursive: true, force: true}))

  it('registers a valid plugin: finds its connectors by kind and scheme, loads them lazily', async () => {
    const p = await plugin(
      '@acme/plakar-widgets',
      {contract: CONTRACT_VERSION, connectors: [connector('importer', ['widget', 'widgets']), connector('storage', ['widget'], './storage.js', okSchema)]},
      {'schema.json': JSON.stringify(okSchema), 'importer.js': factory, 'storage.js': factory},
    )
    const registry = new ConnectorRegistry([p])
    expect(registry.problems).toEqual([])
    expect(registry.schemes('importer')).toEqual(['widget', 'widgets'])
    expect(registry.schemes('storage')).toEqual(['widget'])
    expect(registry.schemes('exporter')).toEqual([])
    const importer = registry.find('importer', 'widgets')
    expect(importer.plugin).toEqual({name: '@acme/plakar-widgets', version: '1.2.3'})
    expect(importer.secrets).toEqual(['token'])
    expect(importer.validate({region: 'eu'}, 'x')).toEqual({region: 'eu'})
    const create = await importer.load<{kind: string; location: string}>()
    const made = await create({location: 'widget://x', scheme: 'widget', config: {}, logger: {debug() {}, info() {}, warn() {}}, cacheDir: base})
    expect(made).toEqual({kind: 'made', location: 'widget://x'})
  })

  it('an unknown scheme is a usage error listing the schemes it does serve', async () => {
    const p = await plugin('one', {contract: CONTRACT_VERSION, connectors: [connector('storage', ['one'], './s.js', okSchema)]}, {'s.js': factory})
    const registry = new ConnectorRegistry([p])
    let error: unknown
    try {
      registry.find('storage', 'nope')
    } catch (e) {
      error = e
    }
    expect(exitCodeOf(error)).toBe(ExitCode.USAGE)
    expect((error as Error).message).toMatch(/unknown storage scheme "nope".*one:/)
  })

  it('packages without a "plakar" field are not plugins and are skipped silently', async () => {
    const registry = new ConnectorRegistry([{name: '@oclif/plugin-help', version: '6.0.0', root: base, pjson: {}}])
    expect(registry.problems).toEqual([])
    expect(registry.connectors()).toEqual([])
  })

  it('an invalid manifest is reported once, naming the plugin, and the other plugins still work', async () => {
    const good = await plugin('good', {contract: CONTRACT_VERSION, connectors: [connector('exporter', ['good'], './e.js', okSchema)]}, {'e.js': factory})
    const cases = [
      await plugin('no-connectors', {contract: CONTRACT_VERSION}),
      await plugin('not-an-object', 'yes please'),
      await plugin('bad-kind', {contract: CONTRACT_VERSION, connectors: [connector('transmogrifier', ['x'], './e.js', okSchema)]}),
      await plugin('bad-scheme', {contract: CONTRACT_VERSION, connectors: [connector('importer', ['Not A Scheme'], './e.js', okSchema)]}),
      await plugin('no-schemes', {contract: CONTRACT_VERSION, connectors: [connector('importer', [], './e.js', okSchema)]}),
      await plugin('no-module', {contract: CONTRACT_VERSION, connectors: [{kind: 'importer', schemes: ['nm'], schema: okSchema}]}),
      await plugin('missing-schema-file', {contract: CONTRACT_VERSION, connectors: [connector('importer', ['msf'], './e.js', './nowhere.json')]}),
    ]
    const registry = new ConnectorRegistry([cases[0], good, ...cases.slice(1)])
    expect(registry.problems).toHaveLength(cases.length)
    cases.forEach((p, i) => expect(registry.problems[i]).toMatch(new RegExp(`^plugin ${p.name}@1\\.2\\.3 is ignored: .+`)))
    expect(registry.problems.every((p) => !p.includes('\n'))).toBe(true)
    expect(registry.find('exporter', 'good').plugin.name).toBe('good')
    expect(registry.schemes('importer')).toEqual([])
  })

  it('a plugin built for another contract version is refused, saying which version it needs', async () => {
    const p = await plugin('from-the-future', {contract: CONTRACT_VERSION + 1, connectors: [connector('storage', ['future'], './s.js', okSchema)]})
    const registry = new ConnectorRegistry([p])
    expect(registry.problems).toHaveLength(1)
    expect(registry.problems[0]).toContain(`built for plugin contract ${CONTRACT_VERSION + 1}`)
    expect(registry.problems[0]).toContain(`speaks contract ${CONTRACT_VERSION}`)
    expect(() => registry.find('storage', 'future')).toThrow(/unknown storage scheme/)
  })

  it('an invalid JSON Schema is reported and the connector left out', async () => {
    const p = await plugin(
      'bad-schema',
      {contract: CONTRACT_VERSION, connectors: [connector('importer', ['bs'], './i.js', './schema.json')]},
      {'schema.json': JSON.stringify({type: 'object', properties: {n: {type: 'nonsense'}}}), 'i.js': factory},
    )
    const broken = await plugin('broken-json', {contract: CONTRACT_VERSION, connectors: [connector('importer', ['bj'])]}, {'schema.json': '{not json'})
    const registry = new ConnectorRegistry([p, broken])
    expect(registry.problems).toHaveLength(2)
    expect(registry.problems[0]).toMatch(/bad-schema.*configuration schema of its importer is invalid/)
    expect(registry.problems[1]).toMatch(/broken-json/)
    expect(registry.schemes('importer')).toEqual([])
  })

  it('two plugins claiming one scheme: using it is an error naming both', async () => {
    const a = await plugin('plakar-s3-a', {contract: CONTRACT_VERSION, connectors: [connector('storage', ['s3'], './s.js', okSchema)]}, {'s.js': factory})
    const b = await plugin('plakar-s3-b', {contract: CONTRACT_VERSION, connectors: [connector('storage', ['s3', 's3b'], './s.js', okSchema)]}, {'s.js': factory})
    const registry = new ConnectorRegistry([a, b])
    let message = ''
    try {
      registry.find('storage', 's3')
    } catch (error) {
      message = (error as Error).message
      expect(exitCodeOf(error)).toBe(ExitCode.USAGE)
    }
    expect(message).toContain('plakar-s3-a')
    expect(message).toContain('plakar-s3-b')
    expect(message).not.toContain('\n')
    // The other kinds and schemes are unaffected.
    expect(registry.find('storage', 's3b').plugin.name).toBe('plakar-s3-b')
  })

  it('the same scheme for different kinds is no conflict', async () => {
    const a = await plugin('kinds-a', {contract: CONTRACT_VERSION, connectors: [connector('importer', ['same'], './s.js', okSchema)]}, {'s.js': factory})
    const b = await plugin('kinds-b', {contract: CONTRACT_VERSION, connectors: [connector('exporter', ['same'], './s.js', okSchema)]}, {'s.js': factory})
    const registry = new ConnectorRegistry([a, b])
    expect(registry.find('importer', 'same').plugin.name).toBe('kinds-a')
    expect(registry.find('exporter', 'same').plugin.name).toBe('kinds-b')
  })

  it('a module that throws at load, or exports no factory, fails when used with a one-line message', async () => {
    const p = await plugin(
      'bad-modules',
      {contract: CONTRACT_VERSION, connectors: [connector('importer', ['throws'], './throws.js', okSchema), connector('exporter', ['nofactory'], './nofactory.js', okSchema)]},
      {'throws.js': `throw new Error('boom at load')\n`, 'nofactory.js': `export const x = 1\n`},
    )
    const registry = new ConnectorRegistry([p])
    expect(registry.problems).toEqual([])
    await expect(registry.find('importer', 'throws').load()).rejects.toThrow(/importer of plugin bad-modules fails to load: boom at load/)
    await expect(registry.find('exporter', 'nofactory').load()).rejects.toThrow(/does not export a factory/)
  })
})

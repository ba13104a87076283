import {lstat, mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, expectTypeOf, it} from 'vitest'
import {
  bufferRecord,
  configSchema,
  directoryInfo,
  directoryRecord,
  fileInfoFromObject,
  fileInfoFromStats,
  localPathInside,
  option,
  parentPath,
  pathComponents,
  secretOptions,
  streamRecord,
  type ConfigOf,
} from '@plakar/sdk'
import {collect} from '@plakar/sdk/testing'
import {compileConfigSchema} from '../../core/cli/src/connectors/config-schema.js'
import {ROOT} from '../support/cli.js'

/**
 * The SDK a plugin imports (@plakar/sdk, @plakar/sdk/testing): its helpers, and what importing
 * it costs. A plugin bundles what it uses of the SDK; the SDK's entry points must never drag the
 * engine, the CLI or a third-party package into a plugin's module graph.
 */
const DIST = join(ROOT, 'core', 'sdk', 'dist')

/** Every module a module imports statically, transitively (dynamic import() is lazy: not followed). */
async function staticGraph(entry: string): Promise<{files: string[]; packages: string[]}> {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = async (file: string): Promise<void> => {
    if (files.has(file)) return
    files.add(file)
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]
      if (spec.startsWith('.')) await visit(resolve(dirname(file), spec))
      else packages.add(spec)
    }
  }
  await visit(entry)
  return {files: [...files].map((f) => f.slice(DIST.length + 1)).sort(), packages: [...packages].sort()}
}

describe('SDK entry points', () => {
  it('@plakar/sdk loads only its own modules and node: built-ins, nothing of the suites', async () => {
    const {files, packages} = await staticGraph(join(DIST, 'index.js'))
    expect(packages.every((p) => p.startsWith('node:')), `packages: ${packages.join(', ')}`).toBe(true)
    expect(files.filter((f) => f.startsWith('testing/') || f.startsWith('..'))).toEqual([])
  })

  it('@plakar/sdk/testing adds the suites and vitest, nothing else', async () => {
    const {files, packages} = await staticGraph(join(DIST, 'testing', 'index.js'))
    expect(packages.filter((p) => !p.startsWith('node:'))).toEqual(['vitest'])
    expect(files.filter((f) => f.startsWith('..'))).toEqual([])
  })

  it('package.json declares no runtime dependency', async () => {
    const pjson = JSON.parse(await readFile(join(ROOT, 'core', 'sdk', 'package.json'), 'utf8'))
    expect(pjson.name).toBe('@plakar/sdk')
    expect(pjson.dependencies ?? {}).toEqual({})
  })

  it('package.json exports both entry points with their types, and packs only dist', async () => {
    const pjson = JSON.parse(await readFile(join(ROOT, 'core', 'sdk', 'package.json'), 'utf8'))
    expect(pjson.exports['.']).toEqual({types: './dist/index.d.ts', default: './dist/index.js'})
    expect(pjson.exports['./testing']).toEqual({types: './dist/testing/index.d.ts', default: './dist/testing/index.js'})
    for (const entry of ['index', 'testing/index']) {
      await lstat(join(DIST, `${entry}.js`))
      await lstat(join(DIST, `${entry}.d.ts`))
    }
    expect(pjson.files).toContain('dist')
    expect(pjson.peerDependenciesMeta?.vitest?.optional).toBe(true)
  })
})

describe('FileInfo builders', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-sdk-'))
  })
  afterAll(() => rm(dir, {recursive: true, force: true}))

  it('fileInfoFromStats: files, directories and symlinks as the contract wants them', async () => {
    await writeFile(join(dir, 'f'), 'hello')
    await symlink('f', join(dir, 'l'))
    const file = fileInfoFromStats(await lstat(join(dir, 'f')))
    expect(file).toMatchObject({type: 'file', size: 5})
    expect(file.mode! & ~0o7777).toBe(0)
    expect(file.mtime).toBeGreaterThan(1e12)
    expect(typeof file.ino).toBe('number')
    expect(fileInfoFromStats(await lstat(dir))).toMatchObject({type: 'directory', size: 0})
    expect(fileInfoFromStats(await lstat(join(dir, 'l')))).toMatchObject({type: 'symlink', size: 0})
  })

  it('fileInfoFromObject: size, Last-Modified in any form, ETag as fingerprint without quotes', () => {
    const when = Date.UTC(2024, 0, 2, 3, 4, 5)
    expect(fileInfoFromObject({size: 10, lastModified: new Date(when), etag: '"abc"', contentType: 'text/plain', metadata: {a: 'b'}})).toEqual({
      type: 'file',
      size: 10,
      mtime: when,
      fingerprint: 'abc',
      contentType: 'text/plain',
      metadata: {a: 'b'},
    })
    expect(fileInfoFromObject({size: 0, lastModified: new Date(when).toUTCString()}).mtime).toBe(when)
    expect(fileInfoFromObject({size: 1, lastModified: 'not a date'}).mtime).toBeUndefined()
    expect(fileInfoFromObject({size: 1, etag: 'W/"weak"'}).fingerprint).toBe('W/weak')
    expect(() => fileInfoFromObject({size: -1})).toThrow(/size/)
  })

  it('records: in-memory content, streamed content and directories', async () => {
    const record = bufferRecord('/a/doc.json', '{"x":1}', {mtime: 5})
    expect(record.info).toEqual({type: 'file', size: 7, mtime: 5})
    expect((await collect(await record.open!())).toString()).toBe('{"x":1}')
    expect((await collect(await bufferRecord('/empty', '').open!())).length).toBe(0)
    expect(directoryRecord('/a').info).toEqual({type: 'directory', size: 0})
    expect(directoryInfo({mtime: new Date(1000), mode: 0o755})).toEqual({type: 'directory', size: 0, mtime: 1000, mode: 0o755})
    expect(() => streamRecord('/d', {type: 'directory', size: 0}, async () => {
      throw new Error('never')
    })).toThrow(/type "file"/)
  })
})

describe('configuration schema builder', () => {
  const schema = configSchema(
    {
      url: option.string({description: 'endpoint', format: 'uri'}),
      token: option.secret({description: 'API token'}),
      page_size: option.integer({minimum: 1, maximum: 1000, default: 100}),
      verify_tls: option.boolean({default: true}),
      mode: option.enum(['fast', 'safe'], {default: 'safe'}),
      label: option.string(),
    },
    {required: ['url'], title: 'demo'},
  )

  it('makes a plain draft-07 object schema, secrets marked writeOnly', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual({
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'demo',
      type: 'object',
      properties: {
        url: {type: 'string', description: 'endpoint', format: 'uri'},
        token: {type: 'string', description: 'API token', writeOnly: true},
        page_size: {type: 'integer', minimum: 1, maximum: 1000, default: 100},
        verify_tls: {type: 'boolean', default: true},
        mode: {type: 'string', enum: ['fast', 'safe'], default: 'safe'},
        label: {type: 'string'},
      },
      required: ['url'],
      additionalProperties: false,
    })
    expect(secretOptions(schema)).toEqual(['token'])
  })

  it('validates as plakar does: strings coerced, defaults filled, every problem at once', () => {
    const validate = compileConfigSchema(schema)
    expect(validate({url: 'https://x.example/', page_size: '50'}, 'importer demo')).toEqual({
      url: 'https://x.example/',
      page_size: 50,
      verify_tls: true,
      mode: 'safe',
    })
    expect(() => validate({page_size: '0', color: 'red', mode: 'slow'}, 'importer demo')).toThrow(
      /missing option "url".*(unknown option "color"|option "page_size").*/,
    )
  })

  it('types the configuration: required and defaulted options present, the others optional', () => {
    type Config = ConfigOf<typeof schema>
    expectTypeOf<Config>().toEqualTypeOf<{
      url: string
      page_size: number
      verify_tls: boolean
      mode: 'fast' | 'safe'
      token?: string
      label?: string
    }>()
  })

  it('refuses a required option it does not declare, a bad name, a secret with a default', () => {
    expect(() => configSchema({a: option.string()}, {required: ['b' as 'a']})).toThrow(/required option "b"/)
    expect(() => configSchema({BadName: option.string()})).toThrow(/snake_case/)
    expect(() => configSchema({pw: {...option.secret(), default: 'x'}})).toThrow(/secret/)
  })
})

describe('restore path helpers', () => {
  it('split a path and refuse what would leave the root', () => {
    expect(pathComponents('/')).toEqual([])
    expect(pathComponents('/a//b/c.txt')).toEqual(['a', 'b', 'c.txt'])
    expect(pathComponents('/..foo/x')).toEqual(['..foo', 'x'])
    for (const bad of ['/..', '/a/../../x', '/a/./b', '/nul\0']) expect(() => pathComponents(bad)).toThrow(/refused/)
    expect(localPathInside('/srv/r', '/a/b')).toBe('/srv/r/a/b')
    expect(localPathInside('/srv/r', '/')).toBe('/srv/r')
    expect(parentPath('/a/b')).toBe('/a')
    expect(parentPath('/a')).toBe('/')
    expect(parentPath('/')).toBeUndefined()
  })
})

import {mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {materializeFixture, testImporter} from '@plakar/sdk/testing'
import {describe, expect, it} from 'vitest'
import createImporter from '../src/importer.js'
import {schema} from '../src/config.js'

const quiet = () => {}

// The SDK's importer conformance suite: every fixture is written to a fresh directory, and the
// importer must yield exactly what is there. When you replace src/source.ts, write each fixture
// entry into your source instead (fixtureContent(entry) gives a file's bytes), and turn off the
// capabilities your source lacks: {directories, symlinks, mode, mtime, unreadable, newlineInNames}.
testImporter(
  '{{name}}',
  async (fixture) => {
    const dir = await mkdtemp(join(tmpdir(), 'plakar-importer-test-'))
    const root = join(dir, 'source root')
    await mkdir(root)
    await materializeFixture(fixture, root)
    const importer = await createImporter({
      location: `{{scheme}}:${root}`,
      scheme: '{{scheme}}',
      config: {exclude_hidden: false},
      logger: {debug: quiet, info: quiet, warn: quiet},
      cacheDir: dir,
    })
    return {importer, cleanup: () => rm(dir, {recursive: true, force: true})}
  },
  // root reads every file whatever its mode: nothing is unreadable to it.
  {unreadable: process.getuid?.() !== 0},
)

describe('configuration schema', () => {
  it('is a flat JSON Schema with a default for every optional option', () => {
    expect(schema.type).toBe('object')
    expect(schema.additionalProperties).toBe(false)
    expect(schema.properties.exclude_hidden.default).toBe(false)
  })
})

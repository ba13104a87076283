import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {testStorage} from '@plakar/sdk/testing'
import {describe, expect, it} from 'vitest'
import createStorage from '../src/storage.js'
import {schema} from '../src/config.js'

const quiet = () => {}

const open = (location: string) =>
  createStorage({location, scheme: '{{scheme}}', config: {fsync: false}, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: tmpdir()})

// The SDK's storage conformance suite, over a fresh location per test. reopen() gives a second
// storage over the same location: what one writes, the other must see.
testStorage('{{name}}', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-storage-test-'))
  const location = `{{scheme}}:${join(dir, 'repository')}`
  return {
    storage: await open(location),
    reopen: () => open(location),
    cleanup: () => rm(dir, {recursive: true, force: true}),
  }
})

describe('configuration schema', () => {
  it('is a flat JSON Schema with a default for every optional option', () => {
    expect(schema.type).toBe('object')
    expect(schema.additionalProperties).toBe(false)
    expect(schema.properties.fsync.default).toBe(true)
  })
})

import {createReadStream} from 'node:fs'
import {lstat, mkdtemp, readdir, readlink, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {testExporter, type ExportedEntry} from '@plakar/sdk/testing'
import {describe, expect, it} from 'vitest'
import createExporter from '../src/exporter.js'
import {schema} from '../src/config.js'

const quiet = () => {}

/** Everything under `root` as the suite wants it, never following a symlink. */
async function readBack(root: string, rel = ''): Promise<ExportedEntry[]> {
  const out: ExportedEntry[] = []
  for (const name of await readdir(join(root, rel))) {
    const path = rel ? `${rel}/${name}` : name
    const full = join(root, path)
    const stats = await lstat(full)
    const common = {path, mode: stats.mode & 0o7777, mtime: stats.mtimeMs, linkId: `${stats.dev}:${stats.ino}`}
    if (stats.isSymbolicLink()) out.push({...common, type: 'symlink', target: await readlink(full)})
    else if (stats.isDirectory()) out.push({...common, type: 'directory'}, ...(await readBack(root, path)))
    else out.push({...common, type: 'file', content: async () => createReadStream(full)})
  }
  return out
}

// The SDK's exporter conformance suite. When you write somewhere else, make readBack() list
// what the target holds, outside() what appeared beside it, and turn off the capabilities the
// target lacks: {directories, mode, mtime, symlinks, hardlinks, newlineInNames}.
testExporter('{{name}}', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-exporter-test-'))
  const root = join(dir, 'target')
  return {
    exporter: await createExporter({
      location: `{{scheme}}:${root}`,
      scheme: '{{scheme}}',
      config: {fsync: false},
      logger: {debug: quiet, info: quiet, warn: quiet},
      cacheDir: dir,
    }),
    readBack: () => readBack(root),
    outside: async () => (await readdir(dir)).filter((name) => name !== 'target'),
    cleanup: () => rm(dir, {recursive: true, force: true}),
  }
})

describe('configuration schema', () => {
  it('is a flat JSON Schema with a default for every optional option', () => {
    expect(schema.type).toBe('object')
    expect(schema.additionalProperties).toBe(false)
    expect(schema.properties.fsync.default).toBe(false)
  })
})

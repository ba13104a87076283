import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {describe, expect, it} from 'vitest'
import {ROOT} from '../support/cli.js'

/**
 * docs/format.md describes the format version by version: when the code changes a version, a
 * type number or a key-derivation label, the document must change with it.
 */
const doc = readFileSync(join(ROOT, 'docs', 'format.md'), 'utf8')
const load = async <T>(path: string) => (await import(pathToFileURL(join(ROOT, 'core', 'engine', 'dist', path)).href)) as T

describe('docs/format.md', () => {
  it('states the version of every structure the code writes', async () => {
    const versions = {
      config: (await load<{CONFIG_VERSION: number}>('format/config.js')).CONFIG_VERSION,
      packfile: (await load<{PACKFILE_VERSION: number}>('format/packfile.js')).PACKFILE_VERSION,
      state: (await load<{STATE_VERSION: number}>('format/state.js')).STATE_VERSION,
      snapshot: (await load<{SNAPSHOT_VERSION: number}>('format/snapshot.js')).SNAPSHOT_VERSION,
      blob: (await load<{BLOB_VERSION: number}>('format/blob.js')).BLOB_VERSION,
      lock: (await load<{LOCK_VERSION: number}>('repository/lock.js')).LOCK_VERSION,
      node: (await load<{NODE_VERSION: number}>('tree/btree.js')).NODE_VERSION,
      entry: (await load<{ENTRY_VERSION: number}>('tree/entry.js')).ENTRY_VERSION,
    }
    const title = /^# The plakar repository format, version (\d+)$/m.exec(doc)
    expect(title, 'format.md must start with its version').not.toBeNull()
    // A structure at another version than the title's has its row in section 15's table:
    // "| snapshot entry (§9.4) | 2 | since | what changed |".
    const labels: Record<keyof typeof versions, string> = {
      config: 'config',
      packfile: 'packfile',
      state: 'state',
      snapshot: 'snapshot header',
      blob: 'blob',
      lock: 'lock',
      node: 'tree node',
      entry: 'snapshot entry',
    }
    const problems: string[] = []
    for (const [name, v] of Object.entries(versions) as [keyof typeof versions, number][]) {
      const row = new RegExp(`^\\| ${labels[name]} \\(§[\\d.]+\\) \\| (\\d+) \\|`, 'm').exec(doc)
      const documented = Number(row ? row[1] : title![1])
      if (v !== documented) problems.push(`${name} is at version ${v} in the code, format.md describes version ${documented}: document the change (section 15)`)
    }
    expect(problems).toEqual([])
  })

  it('lists every blob type and envelope type with its number', async () => {
    const {BlobType, BLOB_TYPE_NAMES} = await load<{BlobType: Record<string, number>; BLOB_TYPE_NAMES: Record<number, string>}>('format/blob-type.js')
    const {EnvelopeType, MAGIC} = await load<{EnvelopeType: Record<string, number>; MAGIC: Buffer}>('format/codec.js')
    const problems: string[] = []
    for (const n of Object.values(BlobType)) {
      if (!new RegExp(`^\\| ${n} \\| ${BLOB_TYPE_NAMES[n]} \\|`, 'm').test(doc)) problems.push(`blob type ${n} (${BLOB_TYPE_NAMES[n]}) is not in the blob table`)
    }
    for (const [name, n] of Object.entries(EnvelopeType)) {
      const words = name.toLowerCase().replace('pack_', 'packfile ')
      if (!doc.includes(`${n} ${words}`)) problems.push(`envelope type ${n} (${words}) is not in the header description`)
    }
    if (!doc.includes(`magic "${MAGIC.toString('latin1')}"`)) problems.push('the magic is not documented')
    expect(problems).toEqual([])
  })

  it('gives every key-derivation and MAC label the code uses', () => {
    const sources = ['crypto/keys.ts', 'crypto/mac.ts', 'crypto/seal.ts', 'format/config.ts'].map((f) => readFileSync(join(ROOT, 'core', 'engine', 'src', f), 'utf8')).join('\n')
    const labels = new Set<string>()
    for (const m of sources.matchAll(/['`](plakar v1 [^'`$]*)['`]/g)) labels.add(m[1])
    for (const m of sources.matchAll(/sub\('([^']+)'\)|sub\(encrypted \? '([^']+)' : '([^']+)'\)/g)) for (const p of m.slice(1)) if (p) labels.add(`plakar v1 ${p}`)
    expect(labels.size).toBeGreaterThan(5)
    const missing = [...labels].filter((label) => !doc.includes(`"${label}"`))
    expect(missing).toEqual([])
  })
})

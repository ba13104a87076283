import {execFile} from 'node:child_process'
import {mkdir, mkdtemp, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {promisify} from 'node:util'
import type {Importer, ImportRecord, ScanError} from '@plakar/sdk'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {walkTree} from '../src/walk.js'
import {context, removeTree} from './context.js'

/**
 * The walk on its own thread, started when the importer is made (FsImporter.startEarly): only
 * the built plugin has the worker script, so these tests load dist/ (the build runs before them).
 */
const BUILT = fileURLToPath(new URL('../dist/importer.js', import.meta.url))
const createImporter = (await import(pathToFileURL(BUILT).href)).default as (c: ReturnType<typeof context>) => Promise<Importer>

async function paths(importer: Importer): Promise<string[]> {
  const out: string[] = []
  for await (const item of importer.scan({signal: new AbortController().signal}) as AsyncIterable<ImportRecord | ScanError>) out.push(item.path)
  return out
}

describe('fs importer: the walk thread started with the importer', () => {
  let dir: string
  let root: string
  let expected: string[]
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-fs-scan-thread-'))
    root = join(dir, 'tree')
    // More entries than the thread walks ahead of its scan (8 batches of 512): it waits for it.
    for (let d = 0; d < 30; d++) {
      await mkdir(join(root, `d${d}`, 'sub'), {recursive: true})
      for (let f = 0; f < 100; f++) {
        await writeFile(join(root, `d${d}`, `f${f}`), `${d}/${f}`)
        await writeFile(join(root, `d${d}`, 'sub', `g${f}`), '')
      }
    }
    expected = [...walkTree(root, dir, () => false)].map((i) => i.path)
    expect(expected.length).toBeGreaterThan(8 * 512)
  })
  afterAll(() => removeTree(dir))

  it('yields every entry in walk order, the batches it posted before the scan included, and a second scan walks again', async () => {
    const importer = await createImporter({...context(root), cacheDir: join(dir, 'cache')})
    // Work of the caller before its scan (the repository opening): the thread walks meanwhile.
    for (let i = 0; i < 20; i++) await readdir(join(root, `d${i}`))
    expect(await paths(importer)).toEqual(expected)
    expect(await paths(importer)).toEqual(expected)
    await importer.close()
  })

  it('ends with close when no scan came, and does not keep a process alive that never closes it', async () => {
    const importer = await createImporter({...context(root), cacheDir: join(dir, 'cache')})
    await importer.close()
    const script = `const m = await import(${JSON.stringify(pathToFileURL(BUILT).href)}); await m.default(${JSON.stringify({
      ...context(root),
      logger: undefined,
      cacheDir: join(dir, 'cache'),
    })}); console.log('made')`
    const {stdout} = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script])
    expect(stdout.trim()).toBe('made')
  })
})

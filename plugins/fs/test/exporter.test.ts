import {createReadStream} from 'node:fs'
import {lstat, mkdtemp, readdir, readlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {testExporter, type ExportedEntry} from '@plakar/sdk/testing'
import createExporter from '../src/exporter.js'
import {context, removeTree} from './context.js'

/** Everything under `root`, never following a symlink. */
async function walk(root: string, rel = ''): Promise<ExportedEntry[]> {
  const out: ExportedEntry[] = []
  for (const name of await readdir(join(root, rel))) {
    const path = rel ? `${rel}/${name}` : name
    const full = join(root, path)
    const stats = await lstat(full)
    const common = {path, mode: stats.mode & 0o7777, mtime: stats.mtimeMs, linkId: `${stats.dev}:${stats.ino}`}
    if (stats.isSymbolicLink()) out.push({...common, type: 'symlink', target: await readlink(full)})
    else if (stats.isDirectory()) out.push({...common, type: 'directory'}, ...(await walk(root, path)))
    else if (stats.isFile()) out.push({...common, type: 'file', content: async () => createReadStream(full)})
    else throw new Error(`unexpected ${path} in the restore target`)
  }
  return out
}

testExporter('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-fs-exporter-'))
  const root = join(dir, 'target')
  return {
    exporter: await createExporter(context(root)),
    readBack: () => walk(root),
    outside: async () => (await readdir(dir)).filter((name) => name !== 'target'),
    cleanup: () => removeTree(dir),
  }
})

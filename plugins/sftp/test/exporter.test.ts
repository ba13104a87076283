import {createReadStream} from 'node:fs'
import {lstat, readdir, readlink} from 'node:fs/promises'
import {join} from 'node:path'
import {testExporter, type ExportedEntry} from '@plakar/sdk/testing'
import createExporter from '../src/exporter.js'
import {keyConfig, quietLogger, remoteDir} from './env.js'

/** Everything under `root` on the server's disk (same machine), never following a symlink. */
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

testExporter('sftp', async () => {
  const dir = await remoteDir('exporter')
  await dir.mkdir()
  const root = join(dir.local, 'target')
  return {
    exporter: await createExporter({location: `${dir.location}/target`, scheme: 'sftp', config: keyConfig(), logger: quietLogger, cacheDir: dir.local}),
    readBack: () => walk(root),
    outside: async () => (await readdir(dir.local)).filter((name) => name !== 'target'),
    cleanup: dir.cleanup,
  }
})

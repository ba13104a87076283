import {execFileSync} from 'node:child_process'
import {mkdir, mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {materializeFixture, testImporter} from '@plakar/sdk/testing'
import createImporter from '../src/importer.js'
import {context, removeTree} from './context.js'

const NOBODY = 65534

/**
 * Root reads any file whatever its mode, so a fixture with unreadable entries is scanned with
 * the effective ids of "nobody" (the vitest worker is a forked process: seteuid is allowed),
 * as a backup run by an ordinary user would meet it. Everything else runs as whoever we are.
 */
async function dropPrivileges(dir: string): Promise<() => void> {
  if (process.getuid?.() !== 0) return () => {}
  execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir])
  process.setegid!(NOBODY)
  process.seteuid!(NOBODY)
  return () => {
    process.seteuid!(0)
    process.setegid!(0)
  }
}

testImporter('fs', async (fixture) => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-fs-importer-'))
  const root = join(dir, 'source root')
  await mkdir(root)
  await materializeFixture(fixture, root)
  const regain = fixture.entries.some((e) => e.type !== 'symlink' && e.unreadable) ? await dropPrivileges(dir) : () => {}
  try {
    const importer = await createImporter(context(root))
    return {
      importer,
      cleanup: async () => {
        regain()
        await removeTree(dir)
      },
    }
  } catch (error) {
    regain()
    throw error
  }
})

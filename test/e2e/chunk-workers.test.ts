/**
 * The chunking workers (core/engine/src/engine/chunk-pool.ts) run only from the compiled engine, so
 * these tests drive core/engine/dist directly, as the CLI does.
 */
import {execFileSync} from 'node:child_process'
import {mkdir, writeFile} from 'node:fs/promises'
import {rmSync, symlinkSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {ROOT} from '../support/cli.js'
import {setup} from './helpers.js'

const dist = async <T>(path: string): Promise<T> => (await import(join(ROOT, path))) as T

describe('chunking workers', () => {
  const env = setup('plakar-workers-')
  afterAll(() => env.s.cleanup())

  it('a failed worker fails the backup instead of recording every remaining file as an error', async () => {
    const {Repository} = await dist<typeof import('../../core/engine/src/repository/repository.js')>('core/engine/dist/repository/repository.js')
    const {backup} = await dist<typeof import('../../core/engine/src/engine/backup.js')>('core/engine/dist/engine/backup.js')
    const {FsStorage} = await dist<typeof import('../../plugins/fs/src/storage.js')>('plugins/fs/dist/storage.js')
    const {FsImporter} = await dist<typeof import('../../plugins/fs/src/importer.js')>('plugins/fs/dist/importer.js')
    const src = join(env.s.dir, 'src')
    await mkdir(src)
    for (let i = 0; i < 20; i++) await writeFile(join(src, `f${i}`), `content ${i}\n`)
    await env.plakar.ok(env.at('create'))
    const repo = await Repository.open(new FsStorage(env.repo), {
      cacheDir: join(env.s.dir, 'engine-cache'),
      passphrase: async () => Buffer.from(env.plakar.env.PLAKAR_PASSPHRASE),
      logger: {debug() {}, info() {}, warn() {}},
    })
    try {
      // The workers open the cache on their own: without it, each one fails as it starts.
      rmSync(repo.cache.path)
      const errors: string[] = []
      const outcome = await backup(repo, [new FsImporter(src)], {tmpDir: env.s.dir, onError: (e) => errors.push(e.error)}).then(
        (r) => `snapshot ${r.id} with ${r.progress.errors} errors`,
        (error: Error) => `failed: ${error.message}`,
      )
      expect(outcome).toMatch(/^failed: a chunking worker/)
      expect(repo.cache.snapshots()).toEqual([])
    } finally {
      await repo.close()
    }
  })

  it('reads what the scan saw: a file replaced by a symlink or a FIFO meanwhile is an error, never followed', async () => {
    const {Repository} = await dist<typeof import('../../core/engine/src/repository/repository.js')>('core/engine/dist/repository/repository.js')
    const {backup} = await dist<typeof import('../../core/engine/src/engine/backup.js')>('core/engine/dist/engine/backup.js')
    const {Snapshot} = await dist<typeof import('../../core/engine/src/engine/snapshot.js')>('core/engine/dist/engine/snapshot.js')
    const {FsStorage} = await dist<typeof import('../../plugins/fs/src/storage.js')>('plugins/fs/dist/storage.js')
    const {FsImporter} = await dist<typeof import('../../plugins/fs/src/importer.js')>('plugins/fs/dist/importer.js')
    const src = join(env.s.dir, 'swapped')
    const secret = join(env.s.dir, 'secret.txt')
    await mkdir(src)
    await writeFile(secret, 'not yours\n')
    await writeFile(join(src, 'link'), 'a plain file when scanned\n')
    await writeFile(join(src, 'fifo'), 'a plain file when scanned\n')
    await writeFile(join(src, 'kept'), 'kept\n')
    await env.plakar.run(env.at('create'))
    const repo = await Repository.open(new FsStorage(env.repo), {
      cacheDir: join(env.s.dir, 'engine-cache-2'),
      passphrase: async () => Buffer.from(env.plakar.env.PLAKAR_PASSPHRASE),
      logger: {debug() {}, info() {}, warn() {}},
    })
    try {
      // The scan has lstat'ed each entry when it asks whether to skip it: swap it right then.
      const skip = (path: string) => {
        if (path.endsWith('/link')) {
          unlinkSync(path)
          symlinkSync(secret, path)
        } else if (path.endsWith('/fifo')) {
          unlinkSync(path)
          execFileSync('mkfifo', [path])
        }
        return false
      }
      const result = await backup(repo, [new FsImporter(src)], {tmpDir: env.s.dir, skip})
      expect(result.progress.errors).toBe(2)
      const snapshot = new Snapshot(repo, result.snapshot!)
      for (const name of ['link', 'fifo']) {
        const entry = await snapshot.entry(join(src, name))
        expect(entry?.error, name).toMatch(/no longer a regular file|symbolic link/)
        expect(entry?.chunks ?? [], name).toEqual([])
      }
      expect((await snapshot.entry(join(src, 'kept')))?.chunks).toHaveLength(1)
    } finally {
      await repo.close()
    }
  }, 30_000)
})

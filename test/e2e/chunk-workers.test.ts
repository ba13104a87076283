/**
 * The chunking workers (core/engine/src/engine/chunk-pool.ts) run only from the compiled engine, so
 * these tests drive core/engine/dist directly, as the CLI does.
 */
import {execFileSync} from 'node:child_process'
import {mkdir, writeFile} from 'node:fs/promises'
import {rmSync, symlinkSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, describe, expect, it} from 'vitest'
import type {Importer, ImportRecord} from '@plakar/sdk'
import {ROOT} from '../support/cli.js'
import {setup} from './helpers.js'

const dist = async <T>(path: string): Promise<T> => (await import(join(ROOT, path))) as T

const MiB = 1024 * 1024

/**
 * An importer as a third party writes one: records with content only through open(), no local
 * path, content arriving in small pieces as from a network. `broken` fails after 3 MiB.
 */
function streamingImporter(files: {path: string; size: number; seed: string; broken?: boolean}[]): Importer {
  const pieces = function* (seed: string, size: number, broken?: boolean) {
    for (let at = 0; at < size; at += 40_000) {
      if (broken && at >= 3 * MiB) throw Object.assign(new Error('connection reset by the source'), {code: 'ECONNRESET'})
      yield pseudo(seed, at, Math.min(40_000, size - at))
    }
  }
  return {
    type: 'acme',
    origin: 'acme.example',
    root: '/',
    async *scan() {
      yield {path: '/', info: {type: 'directory', size: 0, mode: 0o755, mtime: 0}} as ImportRecord
      for (const f of files) {
        yield {path: f.path, info: {type: 'file', size: f.size, mode: 0o644, mtime: 0}, open: async () => Readable.from(pieces(f.seed, f.size, f.broken))} as ImportRecord
      }
    },
    async close() {},
  }
}
let pseudo: (seed: string, offset: number, length: number) => Buffer

describe('chunking workers', () => {
  const env = setup('plakar-workers-')
  afterAll(() => env.s.cleanup())

  const openRepo = async (cache: string) => {
    const {Repository} = await dist<typeof import('../../core/engine/src/repository/repository.js')>('core/engine/dist/repository/repository.js')
    const {FsStorage} = await dist<typeof import('../../plugins/fs/src/storage.js')>('plugins/fs/dist/storage.js')
    pseudo = (await dist<typeof import('../../core/sdk/src/testing/data.js')>('core/sdk/dist/testing/data.js')).pseudoRandomBytes
    return Repository.open(new FsStorage(env.repo), {
      cacheDir: join(env.s.dir, cache),
      passphrase: async () => Buffer.from(env.plakar.env.PLAKAR_PASSPHRASE),
      logger: {debug() {}, info() {}, warn() {}},
    })
  }

  it('streamed content of any importer is chunked on the workers: bit-exact, deduplicated, a failing stream costs one file', async () => {
    const {backup} = await dist<typeof import('../../core/engine/src/engine/backup.js')>('core/engine/dist/engine/backup.js')
    const {Snapshot} = await dist<typeof import('../../core/engine/src/engine/snapshot.js')>('core/engine/dist/engine/snapshot.js')
    const {collect} = await dist<typeof import('../../core/sdk/src/testing/data.js')>('core/sdk/dist/testing/data.js')
    await env.plakar.run(env.at('create'))
    const repo = await openRepo('stream-cache')
    const files = [
      {path: '/big', size: 24 * MiB + 5, seed: 'big'},
      {path: '/copy-of-big', size: 24 * MiB + 5, seed: 'big'},
      {path: '/broken', size: 8 * MiB, seed: 'broken', broken: true},
      ...Array.from({length: 30}, (_, i) => ({path: `/small-${i}`, size: 1000 * i, seed: `small-${i}`})),
      {path: '/empty', size: 0, seed: 'empty'},
    ]
    try {
      const errors: string[] = []
      const result = await backup(repo, [streamingImporter(files)], {tmpDir: env.s.dir, onError: (e) => errors.push(`${e.path}: ${e.error}`)})
      expect(errors).toEqual(['/broken: connection reset by the source'])
      // The copy added nothing: one decision about what is new, whichever file came first.
      expect(result.snapshot!.stats.addedBytes).toBeLessThan(26 * MiB)
      const snapshot = new Snapshot(repo, result.snapshot!)
      for (const f of files.filter((f) => !f.broken)) {
        const entry = (await snapshot.entry(f.path))!
        expect(entry.error, f.path).toBeUndefined()
        expect(entry.info.size, f.path).toBe(f.size)
        const back = await collect(await snapshot.open(entry))
        expect(back.equals(pseudo(f.seed, 0, f.size)), f.path).toBe(true)
      }
      expect((await snapshot.entry('/broken'))!.error).toMatch(/connection reset/)

      // The same content from a local file gives the same chunks: one chunker, one MAC.
      const local = join(env.s.dir, 'big-local')
      await writeFile(local, pseudo('big', 0, 24 * MiB + 5))
      const {FsImporter} = await dist<typeof import('../../plugins/fs/src/importer.js')>('plugins/fs/dist/importer.js')
      const {sameContent} = await dist<typeof import('../../core/engine/src/tree/entry.js')>('core/engine/dist/tree/entry.js')
      const again = await backup(repo, [new FsImporter(local)], {tmpDir: env.s.dir})
      expect(again.snapshot!.stats.addedBytes).toBeLessThan(MiB)
      const a = await new Snapshot(repo, again.snapshot!).entry(local)
      expect(sameContent(a!, (await snapshot.entry('/big'))!)).toBe(true)
    } finally {
      await repo.close()
    }
  })

  it('streamed content goes through the workers: when they cannot start, the backup fails', async () => {
    const {backup} = await dist<typeof import('../../core/engine/src/engine/backup.js')>('core/engine/dist/engine/backup.js')
    await env.plakar.run(env.at('create'))
    const repo = await openRepo('stream-cache-2')
    try {
      // The workers open the cache on their own: without it, each one fails as it starts.
      rmSync(repo.cache.path)
      const outcome = await backup(repo, [streamingImporter([{path: '/f', size: 3 * MiB, seed: 'f'}])], {tmpDir: env.s.dir}).then(
        (r) => `snapshot ${r.id} with ${r.progress.errors} errors`,
        (error: Error) => `failed: ${error.message}`,
      )
      expect(outcome).toMatch(/^failed: a chunking worker/)
    } finally {
      await repo.close()
    }
  })

  it('a failed worker fails the backup instead of recording every remaining file as an error', async () => {
    const {Repository} = await dist<typeof import('../../core/engine/src/repository/repository.js')>('core/engine/dist/repository/repository.js')
    const {backup} = await dist<typeof import('../../core/engine/src/engine/backup.js')>('core/engine/dist/engine/backup.js')
    const {FsStorage} = await dist<typeof import('../../plugins/fs/src/storage.js')>('plugins/fs/dist/storage.js')
    const {FsImporter} = await dist<typeof import('../../plugins/fs/src/importer.js')>('plugins/fs/dist/importer.js')
    const src = join(env.s.dir, 'src')
    await mkdir(src)
    for (let i = 0; i < 20; i++) await writeFile(join(src, `f${i}`), `content ${i}\n`)
    await env.plakar.run(env.at('create'))
    const repo = await Repository.open(new FsStorage(env.repo), {
      cacheDir: join(env.s.dir, 'engine-cache'),
      passphrase: async () => Buffer.from(env.plakar.env.PLAKAR_PASSPHRASE),
      logger: {debug() {}, info() {}, warn() {}},
    })
    try {
      const before = repo.cache.snapshots().length
      // The workers open the cache on their own: without it, each one fails as it starts.
      rmSync(repo.cache.path)
      const errors: string[] = []
      const outcome = await backup(repo, [new FsImporter(src)], {tmpDir: env.s.dir, onError: (e) => errors.push(e.error)}).then(
        (r) => `snapshot ${r.id} with ${r.progress.errors} errors`,
        (error: Error) => `failed: ${error.message}`,
      )
      expect(outcome).toMatch(/^failed: a chunking worker/)
      expect(repo.cache.snapshots()).toHaveLength(before)
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

/**
 * plakar maintenance through the CLI, and the figure issue 10 asks for: ten versions of a real
 * tree, nine removed by prune --keep-last 1 --apply, then maintenance --grace 0: the repository
 * is at most 1.1x a fresh repository holding only the survivor, which restores bit-exact and
 * checks. Also: a backup while maintenance holds the lock fails in one line (exit 1).
 */
import {appendFile, cp, readdir, writeFile} from 'node:fs/promises'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {Repository} from '../../core/engine/src/repository/repository.js'
import {RepositoryLock} from '../../core/engine/src/repository/lock.js'
import {FsStorage} from '../../plugins/fs/src/storage.js'
import {ROOT} from '../support/cli.js'
import {compareTrees, diskUsage} from '../support/tree.js'
import {backup, expectOneLineError, setup} from './helpers.js'

interface Report {
  dryRun: boolean
  snapshots: number
  marked: number
  deleted: number
  freedBytes: number
  waiting: number
  repacked: number
  statesBefore: number
  statesAfter: number
}

describe('maintenance', () => {
  const env = setup('plakar-maintenance-')
  const src = join(env.s.dir, 'src')

  beforeAll(async () => {
    // A real tree: plakar's own sources and documentation.
    await cp(join(ROOT, 'core', 'engine', 'src'), join(src, 'core'), {recursive: true})
    await cp(join(ROOT, 'docs'), join(src, 'docs'), {recursive: true})
    await env.plakar.ok(env.at('create'))
  })
  afterAll(() => env.s.cleanup())

  it('ten versions, prune --keep-last 1, maintenance --grace 0: at most 1.1x a fresh repository; the survivor restores bit-exact', async () => {
    const files = (await readdir(join(src, 'core'), {recursive: true})).filter((f) => f.endsWith('.ts')).sort()
    for (let v = 0; v < 10; v++) {
      // Each version edits a tenth of the files and replaces a binary blob, as a working tree does.
      for (const [i, f] of files.entries()) if (i % 10 === v) await appendFile(join(src, 'core', f), `\n// edit ${v}\n`)
      await writeFile(join(src, 'data.bin'), randomBytes(512 * 1024))
      await backup(env, [src])
    }
    const [plan] = await env.plakar.jsonLines<{remove: unknown[]}>(env.at('prune', '--keep-last', '1', '--apply'))
    expect(plan.remove).toHaveLength(9)

    const [dry] = await env.plakar.jsonLines<Report>(env.at('maintenance', '--grace', '0', '--dry-run'))
    expect(dry.dryRun).toBe(true)
    expect(dry.deleted).toBeGreaterThan(0)
    const sizeBefore = (await diskUsage(env.repo)).bytes
    const [report] = await env.plakar.jsonLines<Report>(env.at('maintenance', '--grace', '0'))
    expect(report).toMatchObject({dryRun: false, snapshots: 1, waiting: 0})
    expect(report.deleted).toBeGreaterThan(0)
    expect(report.statesAfter).toBeLessThan(report.statesBefore)
    const sizeAfter = (await diskUsage(env.repo)).bytes
    // The nine removed binaries at least (repacking writes a little back).
    expect(sizeBefore - sizeAfter).toBeGreaterThan(9 * 512 * 1024 * 0.95)
    expect(report.freedBytes).toBeGreaterThan(9 * 512 * 1024)

    const fresh = join(env.s.dir, 'fresh')
    await env.plakar.ok(['at', fresh, 'create'])
    await env.plakar.ok(['at', fresh, 'backup', src])
    const freshSize = (await diskUsage(fresh)).bytes
    // The figure, printed for the record (issue 10).
    process.stderr.write(`maintenance figure: ${sizeBefore} bytes before, ${sizeAfter} after, fresh ${freshSize}: ${(sizeAfter / freshSize).toFixed(3)}x\n`)
    expect(sizeAfter / freshSize).toBeLessThanOrEqual(1.1)

    const out = join(env.s.dir, 'out')
    await env.plakar.ok(env.at('restore', '--to', out))
    expect(await compareTrees(src, out)).toEqual([])
    await env.plakar.ok(env.at('check'))
    // Nothing is left to do.
    const [again] = await env.plakar.jsonLines<Report>(env.at('maintenance', '--grace', '0'))
    expect(again).toMatchObject({marked: 0, deleted: 0, repacked: 0})
  }, 900_000)

  it('a backup while maintenance holds the lock fails in one line with exit 1; maintenance beside a backup likewise', async () => {
    const repo = await Repository.open(new FsStorage(env.repo), {
      cacheDir: join(env.s.dir, 'engine-cache'),
      passphrase: async () => Buffer.from(env.plakar.env.PLAKAR_PASSPHRASE),
      logger: {debug() {}, info() {}, warn() {}},
    })
    try {
      const lock = await RepositoryLock.acquire(repo, 'exclusive', {host: 'elsewhere', pid: 1, user: 'test'})
      try {
        expectOneLineError(await env.plakar.run(env.at('backup', src)), 1, /locked by maintenance .* try again later/)
        expectOneLineError(await env.plakar.run(env.at('rm', '--apply', 'latest')), 1, /locked by maintenance/)
      } finally {
        await lock.release()
      }
      const shared = await RepositoryLock.acquire(repo, 'shared', {host: 'elsewhere', pid: 1, user: 'test'})
      try {
        expectOneLineError(await env.plakar.run(env.at('maintenance', '--grace', '0')), 1, /locked by a backup or another writer/)
      } finally {
        await shared.release()
      }
    } finally {
      await repo.close()
    }
    expectOneLineError(await env.plakar.run(env.at('maintenance', '--grace', 'soon')), 2, /--grace: "soon" is not a duration/)
  })
})

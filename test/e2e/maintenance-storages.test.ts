/**
 * Lifecycle on every storage: backups, prune --keep-last 1 --apply and maintenance --grace 0 on
 * SQLite (a real file), S3 (radosgw) and SFTP (sshd): the removed snapshots' packfiles are
 * deleted from the storage, the states compacted, and the survivor restores bit-exact and checks.
 */
import {randomBytes} from 'node:crypto'
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {accessKey, hostPort, secretKey, uniqueName} from '../../plugins/s3/test/s3.js'
import {Plakar} from '../support/cli.js'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {setup} from './helpers.js'

const only = process.env.PLAKAR_TEST_SERVICES
const wants = (service: string) => only === undefined || only === 'all' || only.split(',').includes(service)
const sftp = process.env.SFTP_PORT
  ? {port: process.env.SFTP_PORT, user: process.env.SFTP_USER ?? 'root', root: process.env.SFTP_ROOT!, key: process.env.SFTP_KEY!, knownHosts: process.env.SFTP_KNOWN_HOSTS!}
  : undefined

describe('prune and maintenance on every storage', () => {
  const env = setup('plakar-lifecycle-storages-')
  const plakar = new Plakar(env.s.dir, {
    NODE_ENV: undefined as unknown as string,
    SSH_AUTH_SOCK: undefined as unknown as string,
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_REGION: 'us-east-1',
  })
  const src = join(env.s.dir, 'src')
  beforeAll(async () => {
    const b = new TreeBuilder(src)
    await b.file('keep.txt', 'the same in every version\n')
    await b.randomFile('big.bin', 300 * 1024)
    await b.finish()
  })
  afterAll(() => env.s.cleanup())

  const storages: [string, boolean, () => string[]][] = [
    ['sqlite', true, () => [`sqlite:${join(env.s.dir, 'repo.db')}`]],
    ['s3 (radosgw)', wants('radosgw'), () => [`s3://${hostPort}/${uniqueName('plakar-lifecycle')}/repo`, '-o', 'use_tls=false']],
    [
      'sftp (sshd)',
      wants('sshd'),
      () => {
        if (!sftp) throw new Error('SFTP_PORT is not set: sshd did not start (see test/support/services/sshd.ts)')
        return [`sftp://${sftp.user}@127.0.0.1:${sftp.port}${sftp.root}/lifecycle-${randomBytes(4).toString('hex')}`, '-o', `identity=${sftp.key}`, '-o', `known_hosts=${sftp.knownHosts}`]
      },
    ],
  ]

  for (const [name, enabled, location] of storages) {
    it.skipIf(!enabled)(`${name}: three backups, prune --keep-last 1 --apply, maintenance --grace 0`, async () => {
      const at = ['at', ...location()]
      await plakar.ok([...at, 'create'])
      for (let v = 0; v < 3; v++) {
        await writeFile(join(src, 'big.bin'), randomBytes(300 * 1024))
        await plakar.ok([...at, 'backup', '-q', src])
      }
      const [plan] = await plakar.jsonLines<{remove: unknown[]}>([...at, 'prune', '--keep-last', '1', '--apply'])
      expect(plan.remove).toHaveLength(2)
      const [report] = await plakar.jsonLines<{deleted: number; freedBytes: number; statesBefore: number; statesAfter: number; waiting: number}>([
        ...at,
        'maintenance',
        '--grace',
        '0',
      ])
      expect(report.deleted).toBeGreaterThan(0)
      expect(report.freedBytes).toBeGreaterThan(2 * 300 * 1024)
      expect(report.waiting).toBe(0)
      expect(report.statesAfter).toBeLessThan(report.statesBefore)
      const out = join(env.s.dir, `out-${randomBytes(4).toString('hex')}`)
      await plakar.ok([...at, 'restore', '--to', out])
      expect(await compareTrees(src, out)).toEqual([])
      await plakar.ok([...at, 'check'])
      expect(await plakar.jsonLines([...at, 'ls'])).toHaveLength(1)
    }, 600_000)
  }
})

/**
 * S3 failures a user meets, through the CLI against radosgw: refused credentials (exit 77),
 * an unknown bucket (66, saying what to do), an unreachable endpoint and a TLS/plain-http
 * mismatch (1): each one line on stderr, and never a secret in stdout or stderr.
 */
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'
import type {Result} from 'execa'
import {accessKey, createBucket, describeS3, hostPort, putBytes, secretKey, uniqueName} from '../../plugins/s3/test/s3.js'
import {Plakar} from '../support/cli.js'
import {expectOneLineError, setup} from './helpers.js'

const TLS = ['-o', 'use_tls=false']
const WRONG_SECRET = 'WrongSecret-0f9e8d7c6b5a4'

describeS3('S3 errors through the CLI (radosgw)', () => {
  const env = setup('plakar-e2e-s3err-')
  const good = {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, NODE_ENV: undefined as unknown as string}
  const plakar = new Plakar(env.s.dir, good)
  const bucket = uniqueName('plakar-e2e-err')
  const repoBucket = uniqueName('plakar-e2e-errrepo')
  const repo = `s3://${hostPort}/${repoBucket}/repo`
  const localRepo = join(env.s.dir, 'local-repo')

  /** The run failed as expected and leaked neither the real secret nor the wrong one. */
  const expectNoSecret = (r: Result) => {
    const all = `${String(r.stdout)}\n${String(r.stderr)}`
    expect(all).not.toContain(secretKey)
    expect(all).not.toContain(WRONG_SECRET)
  }

  beforeAll(async () => {
    await createBucket(bucket)
    await putBytes(bucket, 'a/b.txt', Buffer.from('hello'))
    await plakar.ok(['at', repo, ...TLS, 'create'])
    await plakar.ok(['at', localRepo, 'create'])
  })
  afterAll(() => env.s.cleanup())

  it('wrong credentials: exit 77, one line, no secret (importer, options on the command line)', async () => {
    const r = await plakar.run([
      'at',
      localRepo,
      'backup',
      `s3://${hostPort}/${bucket}`,
      ...TLS,
      '-o',
      `access_key=${accessKey}`,
      '-o',
      `secret_access_key=${WRONG_SECRET}`,
    ])
    expectOneLineError(r, 77, /refused the credentials/)
    expectNoSecret(r)
  })

  it('wrong credentials: exit 77 for a repository on S3 (credentials from the environment)', async () => {
    const r = await plakar.run(['at', repo, ...TLS, 'ls'], {env: {AWS_SECRET_ACCESS_KEY: WRONG_SECRET}})
    expectOneLineError(r, 77, /refused the credentials/)
    expectNoSecret(r)
    const unknownKey = await plakar.run(['at', repo, ...TLS, 'ls', '--json'], {env: {AWS_ACCESS_KEY_ID: 'PLKNOSUCHKEY000000000'}})
    expectOneLineError(unknownKey, 77, /InvalidAccessKeyId|refused the credentials/)
    expectNoSecret(unknownKey)
  })

  it('no credentials anywhere: exit 77 with what to set', async () => {
    const r = await plakar.run(['at', repo, ...TLS, 'ls'], {
      env: {AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent'},
    })
    expectOneLineError(r, 77, /AWS_ACCESS_KEY_ID|access_key/)
  })

  it('unknown bucket: exit 66 and what to do, as a repository and as a source', async () => {
    const missing = uniqueName('plakar-no-such')
    const r = await plakar.run(['at', `s3://${hostPort}/${missing}`, ...TLS, 'ls'])
    expectOneLineError(r, 66, new RegExp(`bucket "${missing}" does not exist.*plakar at .* create`))
    expectNoSecret(r)
    const b = await plakar.run(['at', localRepo, 'backup', `s3://${hostPort}/${missing}/prefix`, ...TLS])
    expectOneLineError(b, 66, new RegExp(`bucket "${missing}" does not exist`))
  })

  it('no repository under an existing bucket prefix: exit 66', async () => {
    const r = await plakar.run(['at', `s3://${hostPort}/${repoBucket}/elsewhere`, ...TLS, 'ls'])
    expectOneLineError(r, 66, /no repository at s3:\/\//)
  })

  it('unreachable endpoint: one line after the retries, exit 1', async () => {
    const t0 = Date.now()
    const r = await plakar.run(['at', `s3://127.0.0.1:1/${repoBucket}/repo`, ...TLS, '-o', 'retries=2', 'ls'])
    expectOneLineError(r, 1, /cannot reach http:\/\/127\.0\.0\.1:1 .*connection refused \(after 3 attempts\)/)
    expectNoSecret(r)
    expect(Date.now() - t0).toBeLessThan(60_000)
  })

  it('https against a plain-http server: one line that suggests use_tls=false', async () => {
    const r = await plakar.run(['at', repo, '-o', 'retries=0', 'ls'])
    expectOneLineError(r, 1, /use_tls=false/)
    expectNoSecret(r)
  })

  it('a named store keeps the credentials: @name works without AWS_* variables, and shows the secret masked', async () => {
    const outputs: string[] = []
    const run = async (args: string[], env: Record<string, string | undefined> = {}) => {
      const r = await plakar.run(args, {env})
      outputs.push(String(r.stdout), String(r.stderr))
      return r
    }
    const added = await run(['store', 'add', 's3repo', repo, `access_key=${accessKey}`, `secret_access_key=${secretKey}`, 'use_tls=false'])
    expect(added.exitCode, String(added.stderr)).toBe(0)
    const noEnv = {AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined}
    const listed = await run(['at', '@s3repo', 'ls', '--json'], noEnv)
    expect(listed.exitCode, String(listed.stderr)).toBe(0)
    const shown = await run(['store', 'show', 's3repo', '--json'])
    expect(JSON.parse(String(shown.stdout)).options.access_key).toBe(accessKey)
    for (const output of outputs) expect(output).not.toContain(secretKey)
  })

  it('an invalid option is a usage error naming it, and a secret value is never echoed', async () => {
    const r = await plakar.run(['at', repo, ...TLS, '-o', 'no_such_option=1', '-o', 'region=NOT VALID', '-o', `secret_access_key=${WRONG_SECRET}`, 'ls'])
    expectOneLineError(r, 2, /unknown option "no_such_option"/)
    expect(String(r.stderr)).toMatch(/region/)
    expect(String(r.stderr)).toMatch(/access_key/) // secret without key
    expectNoSecret(r)
  })
})

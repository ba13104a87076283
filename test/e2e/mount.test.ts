/**
 * plakar mount: the read-only WebDAV view (OPTIONS, PROPFIND, GET with ranges; writes refused)
 * and, mounted through FUSE by rclone, a file system that ls and diff -r read like any other.
 */
import {execa, type ResultPromise} from 'execa'
import {createHash} from 'node:crypto'
import {mkdir, readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {TreeBuilder} from '../support/tree.js'
import {backup, setup, type Env} from './helpers.js'

let env: Env
let src: string
let first: string
let bigSha: string

/** Starts `plakar mount --json …` and resolves with its JSON line and the running process. */
async function startMount(args: string[]): Promise<{info: {url: string; mountpoint: string | null; snapshots: number}; child: ResultPromise}> {
  const child = execa('node', [BIN, ...env.at('mount', '--json', ...args)], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home})
  const lines = createInterface({input: child.stdout!})
  const line = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.then((r) => reject(new Error(`plakar mount exited ${r.exitCode}: ${String(r.stderr)}`)), reject)
  })
  return {info: JSON.parse(line), child}
}

async function stop(child: ResultPromise): Promise<void> {
  child.kill('SIGINT')
  await child
}

beforeAll(async () => {
  env = setup('plakar-mount-')
  await env.plakar.ok(env.at('create'))
  src = join(env.s.dir, 'src')
  const b = new TreeBuilder(src)
  await b.file('hello.txt', 'hello\n')
  bigSha = await b.randomFile('data/big.bin', 3 * 1024 * 1024 + 5)
  await b.file('odd name & ünïcode.txt', 'odd\n')
  await b.dir('empty')
  await b.finish()
  first = (await backup(env, [src, '--tag', 'daily'])).id
  await b.file('hello.txt', 'hello again\n')
  await backup(env, [src])
})

afterAll(() => env?.s.cleanup())

describe('plakar mount', () => {
  it('serves a read-only WebDAV tree by id, tag and date, with byte ranges', async () => {
    const {info, child} = await startMount([])
    try {
      expect(info.snapshots).toBe(2)
      const url = info.url
      const listing = await (await fetch(`${url}`, {method: 'PROPFIND', headers: {Depth: '1'}})).text()
      for (const name of ['latest/', 'snapshots/', 'tags/', 'dates/']) expect(listing).toContain(`<D:href>/${name}</D:href>`)
      const day = new Date().toISOString().slice(0, 10)
      const tagged = await (await fetch(`${url}tags/daily/`, {method: 'PROPFIND', headers: {Depth: '1'}})).text()
      expect(tagged).toContain(`/tags/daily/${first.slice(0, 8)}/`)
      expect(await (await fetch(`${url}snapshots/${first.slice(0, 8)}/hello.txt`)).text()).toBe('hello\n')
      expect(await (await fetch(`${url}latest/hello.txt`)).text()).toBe('hello again\n')
      expect((await fetch(`${url}dates/${day}/`, {method: 'PROPFIND', headers: {Depth: '1'}})).status).toBe(207)
      const ranged = await fetch(`${url}latest/data/big.bin`, {headers: {Range: 'bytes=1000-1999'}})
      expect(ranged.status).toBe(206)
      const whole = Buffer.from(await (await fetch(`${url}latest/data/big.bin`)).arrayBuffer())
      expect(createHash('sha256').update(whole).digest('hex')).toBe(bigSha)
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(whole.subarray(1000, 2000))
      for (const method of ['PUT', 'DELETE', 'MKCOL', 'MOVE']) expect((await fetch(`${url}latest/hello.txt`, {method})).status).toBe(405)
      expect((await fetch(`${url}latest/no-such-file`)).status).toBe(404)
      // ".." never leaves the view (normalised away by the client, refused by the server).
      expect((await fetch(`${url}latest/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404)
    } finally {
      await stop(child)
    }
  })

  it('mounts through FUSE (rclone): ls and diff -r read the snapshots; Ctrl-C unmounts', async () => {
    const mnt = join(env.s.dir, 'mnt')
    await mkdir(mnt)
    const {info, child} = await startMount([mnt])
    try {
      expect(info.mountpoint).toBe(mnt)
      expect((await readdir(mnt)).sort()).toEqual(['dates', 'latest', 'snapshots', 'tags'])
      const diff = await execa('diff', ['-r', join(mnt, 'latest'), src], {reject: false})
      expect(diff.exitCode, String(diff.stdout)).toBe(0)
      const ls = await execa('ls', ['-l', join(mnt, 'snapshots', first.slice(0, 8))])
      expect(ls.stdout).toMatch(/hello\.txt/)
      expect(await readFile(join(mnt, 'tags', 'daily', first.slice(0, 8), 'hello.txt'), 'utf8')).toBe('hello\n')
      const write = await execa('sh', ['-c', `echo x > ${JSON.stringify(join(mnt, 'latest', 'new.txt'))}`], {reject: false})
      expect(write.exitCode).not.toBe(0)
    } finally {
      await stop(child)
    }
    const mounts = await readFile('/proc/self/mountinfo', 'utf8')
    expect(mounts.split('\n').some((l) => l.split(' ')[4] === mnt)).toBe(false)
  })
})

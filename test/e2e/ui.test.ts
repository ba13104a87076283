/**
 * `plakar ui` as a command: on a repository in one SQLite file (any storage works the same way),
 * the printed link logs in and a file comes back byte for byte; a port in use is one clear
 * line; Ctrl-C stops it with the documented code and the link dies with it.
 */
import {execa} from 'execa'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {TreeBuilder} from '../support/tree.js'
import {backup, expectOneLineError, setup} from './helpers.js'

describe('plakar ui', () => {
  const env = setup('plakar-ui-cli-')
  const db = join(env.s.dir, 'repo.db')
  const at = (...args: string[]) => ['at', `sqlite:${db}`, ...args]
  const content = Buffer.from('a file served over HTTP\n'.repeat(1000))
  let snapshot: string
  let src: string

  beforeAll(async () => {
    const b = new TreeBuilder(join(env.s.dir, 'src'))
    await b.file('docs/served.txt', content)
    src = await b.finish()
    await env.plakar.ok(at('create'))
    snapshot = (await backup({...env, at}, [src])).id
  })
  afterAll(() => env.s.cleanup())

  it('serves a repository on sqlite: through the printed link, and stops on Ctrl-C', async () => {
    const ui = execa('node', [BIN, ...at('ui', '--no-open')], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home, buffer: {stdout: false, stderr: true}})
    let line = ''
    for await (const l of createInterface({input: ui.stdout!})) {
      line = l
      break
    }
    const link = /(http:\/\/127\.0\.0\.1:\d+\/login\?token=[\w-]+)/.exec(line)?.[1]
    expect(line).toMatch(/^plakar ui: open http:\/\/127\.0\.0\.1:\d+\/login\?token=[\w-]+ \(Ctrl-C to stop\)$/)
    const login = await fetch(link!, {redirect: 'manual'})
    expect(login.status).toBe(303)
    const cookie = login.headers.get('set-cookie')!.split(';')[0]
    const origin = new URL(link!).origin
    const entry = (await (await fetch(`${origin}/api/snapshots/${snapshot}/entry?path=${encodeURIComponent(`${src}/docs/served.txt`)}`, {headers: {cookie}})).json()) as {urls: {download: string}}
    const got = Buffer.from(await (await fetch(origin + entry.urls.download)).arrayBuffer())
    expect(got.equals(content)).toBe(true)
    ui.kill('SIGINT')
    const r = await ui
    expect(r.exitCode).toBe(130)
    await expect(fetch(link!)).rejects.toThrow()
  })

  it('a port in use is one line and exit 1', async () => {
    const busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as {port: number}).port
    try {
      const r = await env.plakar.run(at('ui', '--no-open', '--port', String(port)))
      expectOneLineError(r, 1, new RegExp(`port ${port} of 127\\.0\\.0\\.1 is in use`))
    } finally {
      busy.close()
    }
  })
})

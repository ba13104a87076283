import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {request} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'
import tarStream from 'tar-stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {backup} from '@plakar/engine/engine/backup.js'
import {type Importer, type ImportRecord, readAll} from '@plakar/sdk'
import {Repository} from '@plakar/engine/repository/repository.js'
import {startUiServer, type UiServer} from '../../src/ui/server.js'
import {MemoryStorage} from '../../../engine/test/memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}
const T = 1_700_000_000_000
const big = randomBytes(300_000)
const MANY = 450

function file(path: string, data: Buffer | string, contentType?: string, mtime = T): ImportRecord {
  const bytes = Buffer.from(data)
  return {path, info: {type: 'file', size: bytes.length, mode: 0o644, mtime, contentType}, open: async () => Readable.from([bytes])}
}
const dir = (path: string): ImportRecord => ({path, info: {type: 'directory', size: 0, mode: 0o755, mtime: T}})

/** A source whose content changes between the two backups (`round` 1 and 2). */
function source(round: number): Importer {
  return {
    type: 'test',
    origin: 'here',
    root: '/r',
    async *scan() {
      yield dir('/r')
      yield dir('/r/docs')
      yield file('/r/docs/notes.txt', round === 1 ? 'one\ntwo\nthree\n' : 'one\nTWO\nthree\n', 'text/plain', T + round * 1000)
      yield file('/r/docs/page.html', '<script>alert(1)</script>', 'text/html')
      yield file('/r/docs/big.bin', big, 'application/octet-stream')
      yield file('/r/docs/photo.png', Buffer.from('89504e470d0a1a0a', 'hex'), 'image/png')
      if (round === 1) yield file('/r/docs/gone.txt', 'bye\n', 'text/plain')
      else yield file('/r/docs/new.txt', 'hi\n', 'text/plain')
      yield dir('/r/many')
      for (let i = 0; i < MANY; i++) yield file(`/r/many/f${String(i).padStart(4, '0')}.txt`, `file ${i}\n`, 'text/plain')
    },
    async close() {},
  }
}

describe('plakar ui API', () => {
  let work: string
  let repo: Repository
  let server: UiServer
  let first: string
  let second: string
  let cookie: string
  let now = Date.now()

  const get = (path: string, headers: Record<string, string> = {}) => fetch(server.origin + path, {headers: {cookie, ...headers}, redirect: 'manual'})
  const json = async <T = Record<string, unknown>>(path: string): Promise<T> => {
    const res = await get(path)
    expect(res.status, `${path}: ${res.status} ${await res.clone().text()}`).toBe(200)
    return (await res.json()) as T
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'plakar-ui-api-'))
    const storage = new MemoryStorage()
    await Repository.create(storage, {chunking: {algorithm: 'fastcdc', min: 1024, avg: 4096, max: 16384}})
    repo = await Repository.open(storage, {cacheDir: join(work, 'cache'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    first = Buffer.from((await backup(repo, [source(1)], {tmpDir: work})).snapshot!.id).toString('hex')
    second = Buffer.from((await backup(repo, [source(2)], {tmpDir: work})).snapshot!.id).toString('hex')
    server = await startUiServer(repo, {logger: quiet, now: () => now})
    const login = await fetch(server.loginUrl, {redirect: 'manual'})
    expect(login.status).toBe(303)
    cookie = login.headers.get('set-cookie')!.split(';')[0]
  })
  afterAll(async () => {
    await server?.close()
    await repo?.close()
    rmSync(work, {recursive: true, force: true})
  })

  describe('access', () => {
    it('listens on 127.0.0.1 only and prints a link with the token', () => {
      expect(server.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(server.loginUrl).toBe(`${server.origin}/login?token=${server.auth.token}`)
      expect(server.auth.token.length).toBeGreaterThanOrEqual(32)
    })

    it('a missing, wrong or tampered session gets 401 and no data', async () => {
      for (const c of ['', 'plakar_session=x', `${cookie.slice(0, -3)}abc`, cookie.replace(/=[^.]+/, '=AAAAAAAAAAAAAAAAAAAAAA')]) {
        const res = await fetch(`${server.origin}/api/snapshots`, {headers: c ? {cookie: c} : {}})
        expect(res.status, c).toBe(401)
        const body = await res.text()
        expect(body).not.toContain(first)
        expect(body).toMatch(/not logged in/)
      }
    })

    it('a wrong or missing token gets 401 and no cookie; the right one a cookie and a redirect', async () => {
      for (const q of ['', '?token=', `?token=${server.auth.token.slice(0, -1)}`, `?token=${server.auth.token}x`]) {
        const res = await fetch(`${server.origin}/login${q}`, {redirect: 'manual'})
        expect(res.status).toBe(401)
        expect(res.headers.get('set-cookie')).toBeNull()
      }
      const ok = await fetch(`${server.loginUrl}&next=/s/${first}`, {redirect: 'manual'})
      expect(ok.status).toBe(303)
      expect(ok.headers.get('location')).toBe(`/s/${first}`)
      expect(ok.headers.get('set-cookie')).toMatch(/^plakar_session_\d+=[^;]+; HttpOnly; SameSite=Strict; Path=\/$/)
      // Never a redirect to another site.
      for (const next of ['//evil.example/', '/\\evil.example', 'https://evil.example/']) {
        const r = await fetch(`${server.loginUrl}&next=${encodeURIComponent(next)}`, {redirect: 'manual'})
        expect(r.headers.get('location')).toBe('/')
      }
    })

    it('refuses another Host (DNS rebinding) and cross-origin POSTs', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${server.origin}/api/snapshots`, {headers: {host: 'evil.example:80', cookie}}, (res) => {
          res.resume()
          resolve(res.statusCode!)
        })
        req.on('error', reject)
        req.end()
      })
      expect(status).toBe(421)
      const post = await fetch(`${server.origin}/api/checks`, {method: 'POST', headers: {cookie, origin: 'http://evil.example', 'content-type': 'application/json'}, body: JSON.stringify({snapshot: first})})
      expect(post.status).toBe(403)
    })

    it('sends a strict Content-Security-Policy and no-sniff on every answer', async () => {
      for (const path of ['/', `/s/${first}/tree/r/docs`, '/api/snapshots', '/login']) {
        const res = await get(path)
        const csp = res.headers.get('content-security-policy')!
        expect(csp).toContain("default-src 'none'")
        expect(csp).toContain("script-src 'self'")
        expect(csp).not.toMatch(/unsafe-inline'[^;]*;?.*script|script-src[^;]*unsafe-inline/)
        expect(csp).toContain("frame-ancestors 'none'")
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      }
    })
  })

  describe('browsing', () => {
    it('lists snapshots with what each added', async () => {
      const {snapshots} = await json<{snapshots: {id: string; summary: {files: number}; stats: {addedBytes: number}; importer: {root: string}}[]}>('/api/snapshots')
      expect(snapshots.map((s) => s.id)).toEqual([first, second])
      expect(snapshots[0].summary.files).toBe(5 + MANY)
      expect(snapshots[0].stats.addedBytes).toBeGreaterThan(big.length)
      expect(snapshots[1].stats.addedBytes).toBeLessThan(big.length)
    })

    it('shows a directory with its stored summary, a page at a time', async () => {
      const root = await json<{path: string; type: string; summary: {below: {files: number; types: Record<string, number>}}; urls: {zip: string; tgz: string}}>(`/api/snapshots/${first}/entry`)
      expect(root.path).toBe('/r')
      expect(root.summary.below.files).toBe(5 + MANY)
      expect(root.summary.below.types.text).toBe(3 + MANY)
      expect(root.urls.zip).toMatch(/^\/archive\?/)
      const names: string[] = []
      let after: string | undefined
      let pages = 0
      do {
        const page = await json<{entries: {name: string; path: string; type: string; size: number}[]; next?: string; summary: {direct: {files: number}}}>(
          `/api/snapshots/${first}/children?path=/r/many&limit=200${after ? `&after=${encodeURIComponent(after)}` : ''}`,
        )
        expect(page.summary.direct.files).toBe(MANY)
        expect(page.entries.length).toBeLessThanOrEqual(200)
        names.push(...page.entries.map((e) => e.name))
        after = page.next
        pages++
      } while (after)
      expect(pages).toBe(3)
      expect(names).toEqual(Array.from({length: MANY}, (_, i) => `f${String(i).padStart(4, '0')}.txt`))
      const top = await json<{entries: {name: string; type: string; summary?: {below: {files: number}}}[]}>(`/api/snapshots/${first}/children?path=/r`)
      expect(top.entries.map((e) => [e.name, e.type])).toEqual([
        ['docs', 'directory'],
        ['many', 'directory'],
      ])
      expect(top.entries[1].summary!.below.files).toBe(MANY)
    })

    it('refuses a path with "..", a relative path, a bad cursor, and ids not of this repository', async () => {
      for (const p of ['/r/../etc', '/r/docs/..', 'r/docs', '/r//docs', '/r/./docs']) {
        const res = await get(`/api/snapshots/${first}/entry?path=${encodeURIComponent(p)}`)
        expect(res.status, p).toBe(400)
      }
      expect((await get(`/api/snapshots/${first}/children?path=/r/many&after=${encodeURIComponent('../docs')}`)).status).toBe(400)
      expect((await get(`/api/snapshots/${randomBytes(32).toString('hex')}/entry`)).status).toBe(404)
      expect((await get(`/api/snapshots/not-hex/entry`)).status).toBe(400)
      expect((await get(`/api/snapshots/${first}/entry?path=/r/nope`)).status).toBe(404)
      expect((await get(`/api/nothing`)).status).toBe(404)
      expect((await get(`/assets/nothing.js`)).status).toBe(404)
      // No file outside the application's own is ever served, however the path is spelled.
      for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/../../package.json']) {
        const res = await get(p)
        expect(await res.text(), p).not.toMatch(/root:|"name"/)
      }
    })

    it('follows one path across snapshots', async () => {
      const t = await json<{points: {snapshot: {id: string}; change: string; version?: number}[]}>(`/api/snapshots/${second}/timeline?path=/r/docs/notes.txt`)
      expect(t.points.map((p) => [p.snapshot.id, p.change, p.version])).toEqual([
        [first, 'added', 1],
        [second, 'modified', 2],
      ])
      const gone = await json<{points: {change: string}[]}>(`/api/snapshots/${second}/timeline?path=/r/docs/gone.txt`)
      expect(gone.points.map((p) => p.change)).toEqual(['added', 'removed'])
      const same = await json<{points: {change: string; version?: number}[]}>(`/api/snapshots/${first}/timeline?path=/r/docs/big.bin`)
      expect(same.points.map((p) => [p.change, p.version])).toEqual([
        ['added', 1],
        ['unchanged', 1],
      ])
    })

    it('searches by name and by type, page by page', async () => {
      const byName = await json<{hits: {path: string}[]}>(`/api/snapshots/${first}/search?name=notes`)
      expect(byName.hits.map((h) => h.path)).toEqual(['/r/docs/notes.txt'])
      const glob = await json<{hits: {path: string}[]}>(`/api/snapshots/${first}/search?name=${encodeURIComponent('f000*.txt')}`)
      expect(glob.hits.map((h) => h.path)).toEqual(Array.from({length: 10}, (_, i) => `/r/many/f000${i}.txt`))
      const images = await json<{hits: {path: string}[]}>(`/api/snapshots/${first}/search?type=image/`)
      expect(images.hits.map((h) => h.path)).toEqual(['/r/docs/photo.png'])
      const both = await json<{hits: {path: string}[]}>(`/api/snapshots/${first}/search?name=o&type=text/plain&path=/r/docs`)
      expect(both.hits.map((h) => h.path).sort()).toEqual(['/r/docs/gone.txt', '/r/docs/notes.txt'])
      const seen: string[] = []
      let after: string | undefined
      do {
        const page = await json<{hits: {path: string}[]; next?: string}>(`/api/snapshots/${first}/search?type=text/&path=/r/many&limit=100${after ? `&after=${after}` : ''}`)
        seen.push(...page.hits.map((h) => h.path))
        after = page.next
      } while (after)
      expect(seen).toHaveLength(MANY)
      expect(new Set(seen).size).toBe(MANY)
      expect((await get(`/api/snapshots/${first}/search`)).status).toBe(400)
    })

    it('compares two versions of a file and two snapshots', async () => {
      const f = await json<{kind: string; change: string; patch: string}>(`/api/diff?a=${first}&ap=/r/docs/notes.txt&b=${second}&bp=/r/docs/notes.txt`)
      expect(f.kind).toBe('file')
      expect(f.change).toBe('modified')
      expect(f.patch).toMatch(/^-two$/m)
      expect(f.patch).toMatch(/^\+TWO$/m)
      const t = await json<{kind: string; changes: {change: string; path: string}[]}>(`/api/diff?a=${first}&b=${second}`)
      expect(t.kind).toBe('tree')
      expect(t.changes.map((c) => `${c.change} ${c.path}`)).toEqual(['removed /docs/gone.txt', 'added /docs/new.txt', 'modified /docs/notes.txt'])
    })
  })

  describe('content behind signed URLs', () => {
    const urlsOf = async (path: string) => (await json<{urls: {view: string; download: string; zip: string; tgz: string}}>(`/api/snapshots/${first}/entry?path=${encodeURIComponent(path)}`)).urls

    it('serves a file whole and by byte ranges, without the cookie', async () => {
      const {view, download} = await urlsOf('/r/docs/big.bin')
      const whole = await fetch(server.origin + view)
      expect(whole.status).toBe(200)
      expect(whole.headers.get('accept-ranges')).toBe('bytes')
      expect(whole.headers.get('content-security-policy')).toContain('sandbox')
      expect(Buffer.from(await whole.arrayBuffer()).equals(big)).toBe(true)
      for (const [range, start, end] of [
        ['bytes=0-0', 0, 1],
        ['bytes=1000-70000', 1000, 70_001],
        ['bytes=299990-', 299_990, 300_000],
        ['bytes=-10', 299_990, 300_000],
        ['bytes=299000-999999', 299_000, 300_000],
      ] as const) {
        const res = await fetch(server.origin + view, {headers: {range}})
        expect(res.status, range).toBe(206)
        expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end - 1}/${big.length}`)
        expect(Buffer.from(await res.arrayBuffer()).equals(big.subarray(start, end)), range).toBe(true)
      }
      const bad = await fetch(server.origin + view, {headers: {range: 'bytes=300000-'}})
      expect(bad.status).toBe(416)
      expect(bad.headers.get('content-range')).toBe(`bytes */${big.length}`)
      const dl = await fetch(server.origin + download)
      expect(dl.headers.get('content-disposition')).toMatch(/^attachment; filename="big.bin"/)
    })

    it('tags a file by its content: the same bytes the same ETag, in any snapshot', async () => {
      const etag = async (snapshot: string, path: string) => {
        const {urls} = await json<{urls: {view: string}}>(`/api/snapshots/${snapshot}/entry?path=${encodeURIComponent(path)}`)
        const res = await fetch(server.origin + urls.view)
        await res.arrayBuffer()
        return res.headers.get('etag')
      }
      const big1 = await etag(first, '/r/docs/big.bin')
      expect(big1).toMatch(/^"[0-9a-f]{32}"$/)
      expect(await etag(second, '/r/docs/big.bin')).toBe(big1)
      expect(await etag(second, '/r/docs/notes.txt')).not.toBe(await etag(first, '/r/docs/notes.txt'))
      expect(await etag(first, '/r/docs/page.html')).not.toBe(big1)
    })

    it('never serves backed-up HTML as a page', async () => {
      const {view, download} = await urlsOf('/r/docs/page.html')
      const res = await fetch(server.origin + view)
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect(res.headers.get('content-security-policy')).toContain('sandbox')
      expect(await res.text()).toBe('<script>alert(1)</script>')
      expect((await fetch(server.origin + download)).headers.get('content-disposition')).toMatch(/^attachment/)
    })

    it('refuses an altered, unsigned or expired URL', async () => {
      const {view} = await urlsOf('/r/docs/notes.txt')
      const other = view.replace(encodeURIComponent('/r/docs/notes.txt'), encodeURIComponent('/r/docs/big.bin'))
      expect(other).not.toBe(view)
      expect((await fetch(server.origin + other)).status).toBe(403)
      expect((await fetch(server.origin + view.replace(/&sig=[^&]+/, ''))).status).toBe(403)
      expect((await fetch(server.origin + view.replace(/&e=\d+/, `&e=${now + 10 ** 9}`))).status).toBe(403)
      expect((await fetch(server.origin + view.replace(/&sig=[^&]+/, `&sig=${'A'.repeat(43)}`))).status).toBe(403)
      const dotdot = await fetch(`${server.origin}/content?s=${first}&p=${encodeURIComponent('/r/docs/../docs/notes.txt')}`)
      expect(dotdot.status).toBe(403)
      now += 11 * 60 * 1000
      try {
        expect((await fetch(server.origin + view)).status).toBe(410)
      } finally {
        now -= 11 * 60 * 1000
      }
      expect((await fetch(server.origin + view)).status).toBe(200)
    })

    it('streams a folder as tar.gz and zip with the same bytes as the source', async () => {
      const {tgz, zip} = await urlsOf('/r/docs')
      const res = await fetch(server.origin + tgz)
      expect(res.headers.get('content-type')).toBe('application/gzip')
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="docs.tar.gz"/)
      const files = new Map<string, Buffer>()
      const extract = tarStream.extract()
      const done = new Promise<void>((resolve, reject) => {
        extract.on('entry', (header, body, next) => {
          readAll(body as unknown as Readable).then((data) => {
            if (header.type === 'file') files.set(header.name, data)
            next()
          }, reject)
        })
        extract.on('finish', resolve)
        extract.on('error', reject)
      })
      Readable.fromWeb(res.body as never).pipe(createGunzip()).pipe(extract)
      await done
      expect([...files.keys()].sort()).toEqual(['docs/big.bin', 'docs/gone.txt', 'docs/notes.txt', 'docs/page.html', 'docs/photo.png'])
      expect(files.get('docs/big.bin')!.equals(big)).toBe(true)
      const z = Buffer.from(await (await fetch(server.origin + zip)).arrayBuffer())
      expect(z.subarray(0, 4).toString('hex')).toBe('504b0304')
      expect(z.includes(Buffer.from('docs/big.bin'))).toBe(true)
    })
  })

  describe('checks', () => {
    it('starts a check and reports its progress until it is done', async () => {
      const start = await fetch(`${server.origin}/api/checks`, {method: 'POST', headers: {cookie, 'content-type': 'application/json', origin: server.origin}, body: JSON.stringify({snapshot: first})})
      expect(start.status).toBe(202)
      let job = (await start.json()) as {id: string; version: number; state: string; result?: {files: number; bytes: number}; problems: unknown[]}
      const versions = [job.version]
      while (job.state === 'running') {
        job = await json(`/api/checks/${job.id}?since=${job.version}`)
        versions.push(job.version)
      }
      expect(job.state).toBe('done')
      expect(job.problems).toEqual([])
      expect(job.result!.files).toBe(5 + MANY)
      expect(job.result!.bytes).toBeGreaterThan(big.length)
      // Each answer came with a newer version: the page was told of each change, not polled.
      for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1])
      expect((await get('/api/checks/ffff')).status).toBe(404)
    })
  })
})

import {createHash} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {pipeline} from 'node:stream/promises'
import {PlakarError} from '@plakar/sdk'
import {ARCHIVE_FORMATS, ARCHIVE_MEDIA_TYPES, archiveStream, type ArchiveFormat} from '@plakar/engine/engine/archive.js'
import {diffFiles, diffTrees, sameEntry} from '@plakar/engine/engine/diff.js'
import {searchSnapshot} from '@plakar/engine/engine/search.js'
import {Snapshot} from '@plakar/engine/engine/snapshot.js'
import {timeline} from '@plakar/engine/engine/timeline.js'
import type {Logger} from '@plakar/sdk'
import type {SnapshotHeader} from '@plakar/engine/format/snapshot.js'
import type {Repository} from '@plakar/engine/repository/repository.js'
import {contentKey, decodeEntry, type Entry} from '@plakar/engine/tree/entry.js'
import {descendantsStart, isWithin, keyDepth, keyToPath, normalizeStoredPath, pathToKey, subtreeEnd} from '@plakar/engine/tree/path-key.js'
import {Assets, NOT_BUILT_PAGE} from './assets.js'
import {UiAuth} from './auth.js'
import {CheckJobs} from './check-jobs.js'
import {CONTENT_CSP, contentDisposition, HttpError, parseCookies, parseRange, readJsonBody, securityHeaders, sendError, sendJson} from './http.js'

export interface UiServerOptions {
  /** 0 (the default) lets the kernel pick a free port. */
  port?: number
  logger?: Logger
  concurrency?: number
  /** Fixed token (tests); a random one otherwise. */
  token?: string
  /** Where the single-page application's files are (defaults to the @plakar/ui package). */
  assets?: Assets
  /** Clock for signatures and sessions (tests). */
  now?: () => number
}

export interface UiServer {
  /** The printed link: it logs the browser in once, then a session cookie takes over. */
  readonly loginUrl: string
  readonly origin: string
  readonly port: number
  readonly auth: UiAuth
  close(): Promise<void>
}

const PAGE_LIMIT = 200
const MAX_PAGE_LIMIT = 2000
const LONG_POLL_MS = 25_000

/** Types a browser may display inline from our origin; any other text is shown as plain text. */
const INLINE_TYPES = /^(image\/(png|jpeg|gif|webp|avif|bmp|x-icon|vnd\.microsoft\.icon|svg\+xml)|audio\/[\w.+-]+|video\/[\w.+-]+|application\/pdf|text\/plain)$/
const TEXT_LIKE = /^(text\/|application\/(json|xml|javascript|x-sh|x-yaml|yaml|toml|x-httpd-php|sql|graphql|ld\+json)|image\/svg\+xml)/

/**
 * `plakar ui`'s HTTP server: a JSON API over one repository, file content and folder archives
 * behind short-lived signed URLs, and the single-page application. Bound to 127.0.0.1 only.
 *
 * Access: the printed link carries a random per-run token (compared in constant time); opening
 * it sets an HttpOnly, SameSite=Strict session cookie signed with a per-run key. The API wants
 * that cookie; content and archive URLs want their own signature (one path of one snapshot,
 * ten minutes), so a <video> can seek and a download can be resumed without the cookie, and a
 * leaked URL opens nothing else. The Host header must name this server (no DNS rebinding), and
 * state-changing requests must come from this origin.
 */
export async function startUiServer(repo: Repository, options: UiServerOptions = {}): Promise<UiServer> {
  const auth = new UiAuth({token: options.token, now: options.now})
  const assets = options.assets ?? new Assets()
  const jobs = new CheckJobs(repo)
  const logger = options.logger
  let origin = ''
  let hosts = new Set<string>()
  let cookieName = 'plakar_session'

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (typeof (error as {plakarExitCode?: unknown})?.plakarExitCode !== 'number' && !(error instanceof HttpError)) logger?.warn(`ui: ${req.method} ${new URL(req.url ?? '/', origin).pathname}: ${(error as Error).stack ?? error}`)
      sendError(res, error)
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    securityHeaders(res)
    if (!hosts.has(req.headers.host ?? '')) throw new HttpError(421, 'this server answers only to its own address (127.0.0.1)')
    const url = new URL(req.url ?? '/', origin)
    const path = url.pathname
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') throw new HttpError(405, `${method} is not supported`)
    if (method === 'POST') {
      const from = req.headers.origin
      if (from !== undefined && from !== origin) throw new HttpError(403, 'cross-origin request refused')
    }

    if (path === '/login') return login(req, res, url)
    if (path === '/content') return content(req, res, url, method === 'HEAD')
    if (path === '/archive') return archive(req, res, url)
    if (path.startsWith('/api/')) {
      if (!auth.checkSession(parseCookies(req.headers.cookie).get(cookieName))) {
        throw new HttpError(401, 'not logged in: open the link printed by "plakar ui"')
      }
      return api(req, res, url, method)
    }
    if (method === 'POST') throw new HttpError(405, 'POST is only for the API')
    if (assets.has(path) && path !== '/index.html') return assets.send(res, path, method === 'HEAD')
    if (path.startsWith('/assets/')) throw new HttpError(404, 'no such file')
    // Every other path is a route of the single-page application (deep links survive a reload).
    if (!assets.built) {
      res.writeHead(200, {'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store'})
      res.end(NOT_BUILT_PAGE)
      return
    }
    return assets.send(res, '/index.html', method === 'HEAD')
  }

  function login(_req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (!auth.checkToken(url.searchParams.get('token'))) {
      res.writeHead(401, {'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store'})
      res.end('<!doctype html><meta charset="utf-8"><title>plakar ui</title><h1>Wrong or expired link</h1><p>Open the link that <code>plakar ui</code> printed in this run.</p>')
      return
    }
    const next = url.searchParams.get('next') ?? '/'
    // Only a path of this site: never "//host" or "/\host", which browsers read as another origin.
    const target = /^\/(?![/\\])/.test(next) ? next : '/'
    res.writeHead(303, {
      Location: target,
      'Set-Cookie': `${cookieName}=${auth.newSession()}; HttpOnly; SameSite=Strict; Path=/`,
      'Cache-Control': 'no-store',
    })
    res.end()
  }

  async function loadSnapshot(id: string | null | undefined): Promise<Snapshot> {
    if (!id) throw new HttpError(400, 'name a snapshot')
    if (!/^[0-9a-fA-F]{1,64}$/.test(id)) throw new HttpError(400, `"${id}" is not a snapshot id`)
    return new Snapshot(repo, await repo.findSnapshot(id))
  }

  /** A path as the API takes it: absolute, "/"-separated, no "." or ".." components. */
  function snapshotPath(snapshot: Snapshot, raw: string | null): string {
    if (raw === null || raw === '') return snapshot.root
    const path = normalizeStoredPath(raw)
    if (path === undefined) throw new HttpError(400, `${JSON.stringify(raw)} is not a snapshot path: paths are absolute, without "." or ".."`)
    return path
  }

  function signedUrl(route: '/content' | '/archive', fields: Record<string, string>): string {
    const {expires, signature} = auth.sign(fields)
    const q = new URLSearchParams({...fields, e: String(expires), sig: signature})
    return `${route}?${q}`
  }

  function entryUrls(snapshot: Snapshot, path: string, entry: Entry): Record<string, string> | undefined {
    if (entry.error) return undefined
    if (entry.info.type === 'file') {
      return {view: signedUrl('/content', {s: snapshot.id, p: path}), download: signedUrl('/content', {s: snapshot.id, p: path, dl: '1'})}
    }
    if (entry.info.type === 'directory') {
      return {zip: signedUrl('/archive', {s: snapshot.id, p: path, f: 'zip'}), tgz: signedUrl('/archive', {s: snapshot.id, p: path, f: 'tar.gz'})}
    }
    return undefined
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const q = url.searchParams
    const parts = url.pathname.split('/').slice(2).map(decodeURIComponent)
    const [resource, id, sub] = parts
    if (method === 'POST') {
      if (resource === 'checks' && parts.length === 1) return startCheck(req, res)
      throw new HttpError(404, `no API route POST ${url.pathname}`)
    }
    switch (resource) {
      case 'session':
        return sendJson(res, 200, {ok: true})
      case 'repository': {
        await repo.refresh()
        return sendJson(res, 200, {id: repo.id, snapshots: (await repo.snapshots()).length})
      }
      case 'snapshots': {
        if (parts.length === 1) {
          await repo.refresh()
          return sendJson(res, 200, {snapshots: (await repo.snapshots()).map(snapshotJson)})
        }
        const snapshot = await loadSnapshot(id)
        if (parts.length === 2) return sendJson(res, 200, snapshotJson(snapshot.header))
        if (sub === 'entry') return entry(res, snapshot, q)
        if (sub === 'children') return children(res, snapshot, q)
        if (sub === 'search') return search(res, snapshot, q)
        if (sub === 'timeline') return pathTimeline(res, snapshot, q)
        break
      }
      case 'diff':
        return diff(res, q)
      case 'checks': {
        if (parts.length === 1) return sendJson(res, 200, {checks: jobs.list()})
        const since = Number(q.get('since') ?? 0)
        const abort = new AbortController()
        res.on('close', () => abort.abort())
        const job = await jobs.wait(id, Number.isFinite(since) ? since : 0, LONG_POLL_MS, abort.signal)
        if (!job) throw new HttpError(404, `no check ${id}`)
        return sendJson(res, 200, job)
      }
    }
    throw new HttpError(404, `no API route ${url.pathname}`)
  }

  async function entry(res: ServerResponse, snapshot: Snapshot, q: URLSearchParams): Promise<void> {
    const path = snapshotPath(snapshot, q.get('path'))
    const e = await snapshot.requireEntry(path)
    const h = snapshot.header
    sendJson(res, 200, {...entryJson(path, e), urls: entryUrls(snapshot, path, e), root: snapshot.root, snapshot: {id: snapshot.id, time: new Date(h.time).toISOString(), host: h.host, user: h.user, tags: h.tags}})
  }

  /**
   * One page of a directory, in name order, resumed after the last name of the previous page by
   * a seek in the tree: a directory of 100,000 entries costs a page's worth of reads, and its
   * totals come from the summary stored with it at backup time.
   */
  async function children(res: ServerResponse, snapshot: Snapshot, q: URLSearchParams): Promise<void> {
    const path = snapshotPath(snapshot, q.get('path'))
    const dir = await snapshot.requireEntry(path)
    if (dir.info.type !== 'directory') throw new HttpError(400, `${path} is a ${dir.info.type}, not a directory`)
    const limit = Math.min(MAX_PAGE_LIMIT, Math.max(1, Number(q.get('limit') ?? PAGE_LIMIT) || PAGE_LIMIT))
    const key = pathToKey(path)
    let from = descendantsStart(key)
    const after = q.get('after')
    if (after) {
      const afterKey = pathToKey(`${path === '/' ? '' : path}/${after}`)
      if (after.includes('/') || !isWithin(afterKey, key) || keyDepth(afterKey) !== keyDepth(key) + 1) throw new HttpError(400, 'bad page cursor')
      from = subtreeEnd(afterKey)
    }
    const end = subtreeEnd(key)
    const entries: ReturnType<typeof entryJson>[] = []
    let more = false
    // One scan in key order: a file's next key is its next sibling; only after a directory
    // with entries below it does the scan seek past its subtree.
    const childDepth = keyDepth(key) + 1
    let scan = snapshot.vfs.scan(from, end)
    try {
      for (;;) {
        const next = await scan.next()
        if (next.done) break
        if (entries.length === limit) {
          more = true
          break
        }
        const [k, v] = next.value
        if (keyDepth(k) !== childDepth) {
          // Below a child that is not a directory (an importer may list such entries): skip.
          await scan.return(undefined)
          scan = snapshot.vfs.scan(subtreeEnd(pathToKey(entries.at(-1)?.path ?? keyToPath(k))), end)
          continue
        }
        const child = decodeEntry(v)
        entries.push(entryJson(keyToPath(k), child))
        if (child.info.type === 'directory') {
          await scan.return(undefined)
          scan = snapshot.vfs.scan(subtreeEnd(Buffer.from(k)), end)
        }
      }
    } finally {
      await scan.return(undefined)
    }
    const last = entries.at(-1)
    sendJson(res, 200, {path, summary: dir.summary, entries, next: more && last ? last.name : undefined})
  }

  async function search(res: ServerResponse, snapshot: Snapshot, q: URLSearchParams): Promise<void> {
    const name = q.get('name') ?? undefined
    const type = q.get('type') ?? undefined
    if (!name && !type) throw new HttpError(400, 'search by name, by type, or both')
    const within = q.get('path') ? snapshotPath(snapshot, q.get('path')) : undefined
    const limit = Math.min(MAX_PAGE_LIMIT, Math.max(1, Number(q.get('limit') ?? 100) || 100))
    const page = await searchSnapshot(snapshot, {name, type, within, after: q.get('after') ?? undefined, limit})
    sendJson(res, 200, {hits: page.hits.map((h) => entryJson(h.path, h.entry)), next: page.next})
  }

  async function pathTimeline(res: ServerResponse, snapshot: Snapshot, q: URLSearchParams): Promise<void> {
    const path = snapshotPath(snapshot, q.get('path'))
    const points = await timeline(repo, path, snapshot.header)
    sendJson(res, 200, {
      path,
      points: points.map((p) => ({snapshot: snapshotJson(p.snapshot), change: p.change, version: p.version, entry: p.entry ? entryJson(path, p.entry) : undefined})),
    })
  }

  async function diff(res: ServerResponse, q: URLSearchParams): Promise<void> {
    const sa = await loadSnapshot(q.get('a'))
    const sb = await loadSnapshot(q.get('b'))
    const pa = snapshotPath(sa, q.get('ap'))
    const pb = snapshotPath(sb, q.get('bp'))
    const [ea, eb] = [await sa.requireEntry(pa), await sb.requireEntry(pb)]
    if (ea.info.type !== 'directory' || eb.info.type !== 'directory') {
      const change = ea.info.type !== eb.info.type ? 'type-changed' : sameEntry(ea, eb) ? 'unchanged' : 'modified'
      const patch = change === 'modified' && ea.info.type === 'file' ? await diffFiles(sa, pa, ea, sb, pb, eb) : undefined
      return sendJson(res, 200, {kind: 'file', a: entryJson(pa, ea), b: entryJson(pb, eb), change, patch})
    }
    const limit = Math.min(10_000, Math.max(1, Number(q.get('limit') ?? 1000) || 1000))
    const changes: unknown[] = []
    let truncated = false
    for await (const c of diffTrees(sa, pa, sb, pb)) {
      if (changes.length === limit) {
        truncated = true
        break
      }
      const e = (c.after ?? c.before)!
      changes.push({change: c.change, path: c.path, type: e.info.type, before: c.before ? {size: c.before.info.size, type: c.before.info.type} : undefined, after: c.after ? {size: c.after.info.size, type: c.after.info.type} : undefined})
    }
    sendJson(res, 200, {kind: 'tree', a: {snapshot: sa.id, path: pa}, b: {snapshot: sb.id, path: pb}, changes, truncated})
  }

  async function startCheck(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJsonBody(req)) as {snapshot?: string; path?: string; fast?: boolean}
    const snapshot = await loadSnapshot(body.snapshot)
    const path = snapshotPath(snapshot, body.path ?? null)
    await snapshot.requireEntry(path)
    const job = jobs.start({snapshot, path}, {fast: body.fast === true, concurrency: options.concurrency})
    sendJson(res, 202, job)
  }

  /** Verifies a content or archive URL's signature: 403 for a forged or altered one, 410 once expired. */
  function signed(url: URL, names: string[]): Record<string, string> {
    const fields: Record<string, string> = {}
    for (const name of names) {
      const v = url.searchParams.get(name)
      if (v !== null) fields[name] = v
    }
    const verdict = auth.checkSignature(fields, url.searchParams.get('e'), url.searchParams.get('sig'))
    if (verdict === 'bad') throw new HttpError(403, 'this link is not valid: open the file again from the page')
    if (verdict === 'expired') throw new HttpError(410, 'this link has expired: open the file again from the page')
    return fields
  }

  async function content(req: IncomingMessage, res: ServerResponse, url: URL, head: boolean): Promise<void> {
    const fields = signed(url, ['s', 'p', 'dl'])
    const snapshot = await loadSnapshot(fields.s)
    const path = snapshotPath(snapshot, fields.p ?? null)
    const e = await snapshot.requireEntry(path)
    if (e.info.type !== 'file') throw new HttpError(400, `${path} is a ${e.info.type}, not a file`)
    if (e.error) throw new HttpError(404, `${path} could not be backed up: ${e.error}`)
    const size = e.info.size
    const name = path.slice(path.lastIndexOf('/') + 1)
    const stored = (e.info.contentType ?? '').toLowerCase()
    const download = fields.dl === '1'
    let type: string
    if (download) type = stored || 'application/octet-stream'
    else if (INLINE_TYPES.test(stored)) type = stored === 'text/plain' ? 'text/plain; charset=utf-8' : stored
    else if (TEXT_LIKE.test(stored)) type = 'text/plain; charset=utf-8'
    else type = 'application/octet-stream'
    securityHeaders(res, CONTENT_CSP)
    res.setHeader('Content-Type', type)
    res.setHeader('Accept-Ranges', 'bytes')
    res.setHeader('Cache-Control', 'private, max-age=600')
    res.setHeader('Content-Disposition', contentDisposition(download ? 'attachment' : 'inline', name))
    // The same bytes give the same tag; a hash, so that the tag does not list chunk ids.
    if (e.error === undefined) res.setHeader('ETag', `"${createHash('sha256').update(contentKey(e)).digest('hex').slice(0, 32)}"`)
    const range = parseRange(req.headers.range, size)
    if (range === 'unsatisfiable') {
      res.writeHead(416, {'Content-Range': `bytes */${size}`})
      res.end()
      return
    }
    if (range) {
      res.writeHead(206, {'Content-Range': `bytes ${range.start}-${range.end - 1}/${size}`, 'Content-Length': range.end - range.start})
    } else {
      res.writeHead(200, {'Content-Length': size})
    }
    if (head) {
      res.end()
      return
    }
    await pipeline(await snapshot.open(e, range), res)
  }

  async function archive(_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const fields = signed(url, ['s', 'p', 'f'])
    const format = fields.f as ArchiveFormat
    if (!ARCHIVE_FORMATS.includes(format)) throw new HttpError(400, `archive format must be one of ${ARCHIVE_FORMATS.join(', ')}`)
    const snapshot = await loadSnapshot(fields.s)
    const path = snapshotPath(snapshot, fields.p ?? null)
    await snapshot.requireEntry(path)
    const base = path === '/' ? `snapshot-${snapshot.id.slice(0, 8)}` : path.slice(path.lastIndexOf('/') + 1)
    securityHeaders(res, CONTENT_CSP)
    res.writeHead(200, {
      'Content-Type': ARCHIVE_MEDIA_TYPES[format],
      'Content-Disposition': contentDisposition('attachment', `${base}.${format === 'tar.gz' ? 'tar.gz' : format}`),
      'Cache-Control': 'no-store',
    })
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    await pipeline(archiveStream(snapshot, path, format, {signal: abort.signal}), res)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new PlakarError(`port ${options.port} of 127.0.0.1 is in use: choose another with --port, or leave --port out for a free one`))
      else if (error.code === 'EACCES') reject(new PlakarError(`port ${options.port} of 127.0.0.1 needs privileges: choose a port above 1023`))
      else reject(error)
    })
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.removeAllListeners('error')
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  // While the user opens the link: read the newest snapshot's header and the top of its tree,
  // so the first folder shown comes from memory rather than from a (maybe remote) storage.
  void (async () => {
    const newest = (await repo.snapshots()).at(-1)
    if (!newest) return
    const snapshot = new Snapshot(repo, newest)
    let n = 0
    for await (const _ of snapshot.children(snapshot.root)) if (++n >= PAGE_LIMIT) break
  })().catch(() => {})
  origin = `http://127.0.0.1:${port}`
  hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`])
  // Cookies are shared by every port of a host: two runs side by side keep their own.
  cookieName = `plakar_session_${port}`
  return {
    loginUrl: `${origin}/login?token=${auth.token}`,
    origin,
    port,
    auth,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function snapshotJson(h: SnapshotHeader) {
  return {
    id: Buffer.from(h.id).toString('hex'),
    time: new Date(h.time).toISOString(),
    host: h.host,
    user: h.user,
    tags: h.tags,
    importer: h.importer,
    command: h.command,
    summary: h.summary,
    stats: h.stats,
    parent: h.parent ? Buffer.from(h.parent).toString('hex') : undefined,
  }
}

function entryJson(path: string, e: Entry) {
  return {
    name: path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1),
    path,
    type: e.info.type,
    size: e.info.size,
    mode: e.info.mode,
    mtime: e.info.mtime ? new Date(e.info.mtime).toISOString() : undefined,
    contentType: e.info.contentType,
    target: e.target,
    error: e.error,
    summary: e.summary,
  }
}

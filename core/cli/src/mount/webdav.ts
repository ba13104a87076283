import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {pipeline} from 'node:stream/promises'
import type {SnapshotEntry} from '@plakar/engine/engine/selection.js'
import {openSnapshot} from '@plakar/engine/engine/selection.js'
import type {Snapshot} from '@plakar/engine/engine/snapshot.js'
import type {Repository} from '@plakar/engine/repository/repository.js'
import type {Entry} from '@plakar/engine/tree/entry.js'

/**
 * A read-only WebDAV view of snapshots (RFC 4918, class 1: OPTIONS, PROPFIND with Depth 0 and
 * 1, GET and HEAD with byte ranges), for `plakar mount`. rclone, davfs2 and file managers mount
 * it; `rclone mount` makes it a FUSE file system that ls, cp and diff -r use.
 *
 *   /latest/…                  the newest snapshot
 *   /snapshots/ID/…            every snapshot by its id (first 8 hex digits)
 *   /tags/TAG/ID/…             snapshots by tag
 *   /dates/YYYY-MM-DD/ID/…     snapshots by day (UTC)
 *
 * Below a snapshot, the tree is the snapshot's root. Read-only methods only: anything else is
 * 405, and a write can never reach the repository. Listing a directory reads its children
 * only (a seek per child), and a file is streamed by ranges: memory does not depend on sizes.
 *
 * Written on node:http rather than with a WebDAV server library: the read-only subset is two
 * XML responses, and the libraries available (webdav-server 2.6) are unmaintained and bring a
 * writable virtual file system we would have to disable piece by piece.
 */
export interface WebdavOptions {
  port?: number
  host?: string
  onError?: (message: string) => void
}

type Node =
  | {kind: 'dir'; names: () => Promise<{name: string; node: Node}[]>; mtime: number}
  | {kind: 'snapshot-path'; snapshot: () => Promise<Snapshot>; path: string; mtime: number}

export async function serveWebdav(repo: Repository, entries: SnapshotEntry[], options: WebdavOptions = {}): Promise<{server: Server; url: string}> {
  const short = (e: SnapshotEntry) => e.id.slice(0, 8)
  const snapshots = new Map<string, Promise<Snapshot>>()
  const open = (e: SnapshotEntry) => {
    let s = snapshots.get(e.id)
    if (!s) {
      s = openSnapshot(repo, e)
      snapshots.set(e.id, s)
    }
    return s
  }
  const snapshotNode = (e: SnapshotEntry): Node => ({kind: 'snapshot-path', snapshot: () => open(e), path: '', mtime: e.time})
  const dir = (list: () => {name: string; node: Node}[], mtime = Date.now()): Node => ({kind: 'dir', names: async () => list(), mtime})
  const latest = entries.at(-1)
  const byTag = new Map<string, SnapshotEntry[]>()
  const byDate = new Map<string, SnapshotEntry[]>()
  for (const e of entries) {
    for (const t of e.tags) byTag.set(t, [...(byTag.get(t) ?? []), e])
    const day = new Date(e.time).toISOString().slice(0, 10)
    byDate.set(day, [...(byDate.get(day) ?? []), e])
  }
  const listOf = (list: SnapshotEntry[]) => () => list.map((e) => ({name: short(e), node: snapshotNode(e)}))
  const root = dir(() => [
    ...(latest ? [{name: 'latest', node: snapshotNode(latest)}] : []),
    {name: 'snapshots', node: dir(listOf(entries))},
    {name: 'tags', node: dir(() => [...byTag].map(([tag, list]) => ({name: tag, node: dir(listOf(list))})))},
    {name: 'dates', node: dir(() => [...byDate].map(([day, list]) => ({name: day, node: dir(listOf(list))})))},
  ])

  /** The node at a decoded path ("/tags/daily/3f2a9c1e/etc/hosts"), and its entry when in a snapshot. */
  async function resolve(parts: string[]): Promise<{node: Node; entry?: Entry; snapshot?: Snapshot; path?: string} | undefined> {
    let node = root
    for (let i = 0; i < parts.length; i++) {
      if (node.kind === 'snapshot-path') {
        const snapshot = await node.snapshot()
        const path = joinPath(snapshot.root, parts.slice(i))
        const entry = await snapshot.entry(path)
        return entry ? {node, entry, snapshot, path} : undefined
      }
      const child = (await node.names()).find((c) => c.name === parts[i])
      if (!child) return undefined
      node = child.node
    }
    if (node.kind === 'snapshot-path') {
      const snapshot = await node.snapshot()
      const entry = await snapshot.entry(snapshot.root)
      return entry ? {node, entry, snapshot, path: snapshot.root} : undefined
    }
    return {node}
  }

  async function children(found: NonNullable<Awaited<ReturnType<typeof resolve>>>): Promise<{name: string; props: Props}[]> {
    if (found.snapshot && found.entry) {
      if (found.entry.info.type !== 'directory') return []
      const out: {name: string; props: Props}[] = []
      for await (const [p, entry] of found.snapshot.children(found.path!)) out.push({name: p.slice(p.lastIndexOf('/') + 1), props: propsOf(entry)})
      return out
    }
    if (found.node.kind !== 'dir') return []
    return Promise.all(
      (await found.node.names()).map(async (c) => ({name: c.name, props: {dir: true, size: 0, mtime: c.node.mtime}})),
    )
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p))
    if (parts.some((p) => p === '..' || p === '.' || p.includes('\0'))) return reply(res, 400)
    if (req.method === 'OPTIONS') {
      res.writeHead(200, {DAV: '1', Allow: 'OPTIONS, GET, HEAD, PROPFIND', 'Content-Length': 0})
      return void res.end()
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'PROPFIND') {
      res.writeHead(405, {Allow: 'OPTIONS, GET, HEAD, PROPFIND', 'Content-Length': 0})
      return void res.end()
    }
    const found = await resolve(parts)
    if (!found) return reply(res, 404)
    const props: Props = found.entry ? propsOf(found.entry) : {dir: true, size: 0, mtime: found.node.mtime}
    const href = `/${parts.map(encodeURIComponent).join('/')}`
    if (req.method === 'PROPFIND') {
      req.resume()
      const depth = req.headers.depth === '0' ? 0 : 1
      const rows = [response(props.dir && !href.endsWith('/') ? `${href}/` : href, props)]
      if (depth === 1 && props.dir) {
        for (const c of await children(found)) rows.push(response(`${href === '/' ? '' : href}/${encodeURIComponent(c.name)}${c.props.dir ? '/' : ''}`, c.props))
      }
      const body = `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">\n${rows.join('')}</D:multistatus>\n`
      res.writeHead(207, {'Content-Type': 'application/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body)})
      return void res.end(body)
    }
    if (props.dir) {
      // A browser gets a plain listing.
      const list = (await children(found)).map((c) => `<li><a href="${escapeXml(`${href === '/' ? '' : href}/${encodeURIComponent(c.name)}${c.props.dir ? '/' : ''}`)}">${escapeXml(c.name)}</a></li>`)
      const body = `<!doctype html><meta charset="utf-8"><ul>${list.join('')}</ul>\n`
      res.writeHead(200, {'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body)})
      return void res.end(req.method === 'HEAD' ? undefined : body)
    }
    const entry = found.entry!
    if (entry.error || entry.info.type !== 'file') {
      // A symbolic link is shown as a small file holding its target (WebDAV has no links).
      if (entry.info.type === 'symlink') {
        const body = Buffer.from(entry.target ?? '')
        res.writeHead(200, {'Content-Length': body.length, 'Content-Type': 'application/octet-stream'})
        return void res.end(req.method === 'HEAD' ? undefined : body)
      }
      return reply(res, 403)
    }
    const size = entry.info.size
    const range = parseRange(req.headers.range, size)
    const headers: Record<string, string | number> = {
      'Accept-Ranges': 'bytes',
      'Last-Modified': new Date(props.mtime).toUTCString(),
      'Content-Type': entry.info.contentType ?? 'application/octet-stream',
    }
    if (range === 'invalid') {
      res.writeHead(416, {'Content-Range': `bytes */${size}`, 'Content-Length': 0})
      return void res.end()
    }
    if (range) {
      res.writeHead(206, {...headers, 'Content-Range': `bytes ${range.start}-${range.end - 1}/${size}`, 'Content-Length': range.end - range.start})
    } else res.writeHead(200, {...headers, 'Content-Length': size})
    if (req.method === 'HEAD') return void res.end()
    await pipeline(await found.snapshot!.open(entry, range ?? undefined), res)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      options.onError?.(`${req.method} ${req.url}: ${error.message}`)
      if (!res.headersSent) reply(res, 500)
      else res.destroy(error)
    })
  })
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolveListen())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : options.port
  return {server, url: `http://${options.host ?? '127.0.0.1'}:${port}/`}
}

interface Props {
  dir: boolean
  size: number
  mtime: number
}

function propsOf(entry: Entry): Props {
  return {dir: entry.info.type === 'directory', size: entry.info.type === 'file' ? entry.info.size : entry.info.type === 'symlink' ? Buffer.byteLength(entry.target ?? '') : 0, mtime: entry.info.mtime ?? 0}
}

function joinPath(root: string, parts: string[]): string {
  return `${root === '/' ? '' : root}/${parts.join('/')}`
}

function response(href: string, props: Props): string {
  const type = props.dir ? '<D:resourcetype><D:collection/></D:resourcetype>' : `<D:resourcetype/><D:getcontentlength>${props.size}</D:getcontentlength>`
  return `<D:response><D:href>${escapeXml(href)}</D:href><D:propstat><D:prop>${type}<D:getlastmodified>${new Date(props.mtime).toUTCString()}</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n`
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;'})[c]!)
}

function reply(res: ServerResponse, status: number): void {
  res.writeHead(status, {'Content-Length': 0})
  res.end()
}

/** A single "bytes=a-b" range: [start, end); undefined for the whole file. */
function parseRange(header: string | undefined, size: number): {start: number; end: number} | undefined | 'invalid' {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  let start: number
  let end: number
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]))
    end = size
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)
  }
  if (start >= size || start >= end) return 'invalid'
  return {start, end}
}

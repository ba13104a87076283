import type {IncomingMessage, ServerResponse} from 'node:http'
import {ExitCode, exitCodeOf} from '@plakar/sdk'

/**
 * The page's policy: only this origin's own scripts, styles, images, media and connections;
 * no inline script, no eval (WebAssembly may compile: PDF.js decodes some images with it), no
 * plugins, no framing. Markdown and highlighted code are sanitized, and this is the second wall.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ')

/**
 * File content from a backup is someone else's bytes: even opened directly it runs nothing
 * (sandboxed, no scripts) and cannot frame or be framed.
 */
export const CONTENT_CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"

export function securityHeaders(res: ServerResponse, csp = PAGE_CSP): void {
  res.setHeader('Content-Security-Policy', csp)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()')
}

/** A failure the client is told about: HTTP status and a one-line message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value, jsonReplacer))
  res.writeHead(status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store'})
  res.end(body)
}

/** Buffers (ids, MACs) as hex. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as {type?: string}).type === 'Buffer' && Array.isArray((value as {data?: unknown}).data)) {
    return Buffer.from((value as {data: number[]}).data).toString('hex')
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  return value
}

/** HTTP status for an engine error, by its documented exit code. */
export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status
  switch (exitCodeOf(error)) {
    case ExitCode.USAGE:
      return 400
    case ExitCode.NOT_FOUND:
      return 404
    case ExitCode.AUTH:
      return 403
    case ExitCode.INTEGRITY:
      return 502
    default:
      return 500
  }
}

export function sendError(res: ServerResponse, error: unknown): void {
  const status = statusOf(error)
  // Engine errors carry a message written for users; anything else stays in the terminal.
  const known = error instanceof HttpError || typeof (error as {plakarExitCode?: unknown})?.plakarExitCode === 'number'
  const message = known ? (error as Error).message : 'internal error: see the terminal running plakar ui'
  if (res.headersSent) {
    // A stream already started cannot change its status: cut it so the client sees a failure,
    // never a silently truncated download.
    res.destroy(error as Error)
    return
  }
  sendJson(res, status, {error: message})
}

/** Parses a single "bytes=a-b" range; multiple ranges are answered with the whole file. */
export function parseRange(header: string | undefined, size: number): {start: number; end: number} | 'unsatisfiable' | undefined {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return 'unsatisfiable'
    start = Math.max(0, size - suffix)
    end = size
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)
  }
  if (start >= size || end <= start) return 'unsatisfiable'
  return {start, end}
}

export async function readJsonBody(req: IncomingMessage, max = 64 * 1024): Promise<unknown> {
  let size = 0
  const parts: Buffer[] = []
  for await (const part of req) {
    size += (part as Buffer).length
    if (size > max) throw new HttpError(413, 'request body too large')
    parts.push(part as Buffer)
  }
  if (size === 0) return {}
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'))
  } catch {
    throw new HttpError(400, 'request body is not valid JSON')
  }
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  return out
}

/** RFC 6266 / 5987: an ASCII fallback plus the exact UTF-8 name. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`
}

import {createHash, createHmac, randomBytes, timingSafeEqual} from 'node:crypto'

/** How long a signed content or archive URL stays valid. */
export const SIGNED_URL_TTL_MS = 10 * 60 * 1000
/** How long a session cookie stays valid (the server itself lives only as long as its run). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000

/** Equal-length digests compared in constant time, so the compare leaks neither length nor prefix. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/**
 * The secrets of one `plakar ui` run: the login token printed in the link, and a key that signs
 * session cookies and content URLs. Nothing is stored: a new run invalidates every link,
 * cookie and URL of the previous one.
 */
export class UiAuth {
  readonly token: string
  readonly #key: Buffer
  readonly #now: () => number

  constructor(options: {token?: string; now?: () => number} = {}) {
    this.token = options.token ?? randomBytes(24).toString('base64url')
    this.#key = randomBytes(32)
    this.#now = options.now ?? Date.now
  }

  checkToken(given: string | null | undefined): boolean {
    return typeof given === 'string' && given.length > 0 && sameSecret(given, this.token)
  }

  #mac(purpose: string, ...parts: string[]): string {
    const h = createHmac('sha256', this.#key).update(purpose)
    for (const part of parts) h.update('\0').update(part)
    return h.digest('base64url')
  }

  #verify(mac: string, purpose: string, ...parts: string[]): boolean {
    const expected = Buffer.from(this.#mac(purpose, ...parts))
    const got = Buffer.from(mac)
    return got.length === expected.length && timingSafeEqual(got, expected)
  }

  /** A new session cookie value: a random id and its expiry, signed. */
  newSession(): string {
    const payload = `${randomBytes(16).toString('base64url')}.${this.#now() + SESSION_TTL_MS}`
    return `${payload}.${this.#mac('session', payload)}`
  }

  checkSession(value: string | undefined): boolean {
    if (!value) return false
    const parts = value.split('.')
    if (parts.length !== 3) return false
    const [id, expires, mac] = parts
    if (!this.#verify(mac, 'session', `${id}.${expires}`)) return false
    return Number(expires) > this.#now()
  }

  /** Signs what a content or archive URL gives access to: one path of one snapshot, one use. */
  sign(fields: Record<string, string>, ttlMs = SIGNED_URL_TTL_MS): {expires: number; signature: string} {
    const expires = this.#now() + ttlMs
    return {expires, signature: this.#mac('url', String(expires), ...canonical(fields))}
  }

  checkSignature(fields: Record<string, string>, expires: string | null, signature: string | null): 'ok' | 'expired' | 'bad' {
    if (!expires || !signature || !/^\d+$/.test(expires)) return 'bad'
    if (!this.#verify(signature, 'url', expires, ...canonical(fields))) return 'bad'
    return Number(expires) > this.#now() ? 'ok' : 'expired'
  }
}

function canonical(fields: Record<string, string>): string[] {
  return Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
}

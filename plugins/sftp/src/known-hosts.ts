import {createHash, createHmac, timingSafeEqual} from 'node:crypto'

/**
 * OpenSSH known_hosts files: which host keys a host may present.
 *
 * A line is `[@marker] patterns keytype base64-key [comment]`. Patterns are comma-separated
 * host names or `[host]:port` (for ports other than 22), with `*` and `?` wildcards and `!`
 * negations, or one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` (HashKnownHosts).
 * `@revoked` keys are refused; `@cert-authority` lines are ignored (certificates are not
 * supported).
 */
export interface KnownHostEntry {
  line: number
  marker?: 'revoked' | 'cert-authority'
  patterns: string
  keyType: string
  key: Buffer
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === '' || line.startsWith('#')) continue
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!.slice(1)
      if (m !== 'revoked' && m !== 'cert-authority') continue
      marker = m
    }
    if (fields.length < 3) continue
    const [patterns, keyType, base64] = fields
    const key = Buffer.from(base64, 'base64')
    if (key.length === 0) continue
    entries.push({line: i + 1, marker, patterns, keyType, key})
  }
  return entries
}

/** Glob with `*` and `?`, as OpenSSH's match_pattern (case-insensitive for host names). */
function globMatch(name: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`, 'i')
  return re.test(name)
}

function hashedMatch(name: string, pattern: string): boolean {
  const [, magic, salt64, hash64] = pattern.split('|')
  if (magic !== '1' || !salt64 || !hash64) return false
  const expected = Buffer.from(hash64, 'base64')
  const actual = createHmac('sha1', Buffer.from(salt64, 'base64')).update(name).digest()
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** Whether a line's patterns name `name` ("host" or "[host]:port"). */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(name, patterns)
  let matched = false
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!')
    const pattern = negated ? raw.slice(1) : raw
    if (globMatch(name, pattern)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

/** The key type inside an SSH wire-format public key blob ("ssh-ed25519", …). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return ''
  const n = blob.readUInt32BE(0)
  return blob.subarray(4, 4 + n).toString('latin1')
}

/** OpenSSH's fingerprint of a key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

export type HostKeyVerdict =
  | {status: 'known'; entry: KnownHostEntry}
  | {status: 'unknown'}
  | {status: 'mismatch'; entries: KnownHostEntry[]}
  | {status: 'revoked'; entry: KnownHostEntry}

/**
 * What known_hosts says of the key a host presented. `names` are the names the host goes by
 * (the "[host]:port" form and, for port 22, the bare host). A key listed for the host is
 * known; a host listed only with other keys is a mismatch (as OpenSSH, whatever their type);
 * a host not listed is unknown.
 */
export function verifyHostKey(entries: KnownHostEntry[], names: string[], presented: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => names.some((n) => patternsMatch(e.patterns, n)))
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(presented))
  if (revoked) return {status: 'revoked', entry: revoked}
  const plain = forHost.filter((e) => e.marker === undefined)
  const match = plain.find((e) => e.key.equals(presented))
  if (match) return {status: 'known', entry: match}
  if (plain.length > 0) return {status: 'mismatch', entries: plain}
  return {status: 'unknown'}
}

/** Host key algorithms for a key type: RSA keys sign with several. */
export function algorithmsFor(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
  return [keyType]
}

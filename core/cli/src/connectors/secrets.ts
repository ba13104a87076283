/**
 * The one rule for secrets, used wherever plakar shows or records a configuration: named
 * stores, sources and destinations (add, ls, show, text and --json), the command line a
 * snapshot records, and messages naming a location.
 *
 * An option is secret when its connector's schema marks it (`writeOnly: true`, what
 * `option.secret()` writes, or `x-secret: true`), or when its name says so: the name rule is a
 * safety net for schemas that forget the mark and for options of a connector that is not
 * installed (any more), and it is deliberately wide (`passwd` and `pass` too).
 */
const SECRET_NAME = /passw|^pass$|secret|passphrase|token|credential|private[_-]?key|api[_-]?key/i

/** What a secret value is shown as. */
export const MASK = '********'

/** The option names a connector's schema marks secret, plus those whose name is secret. */
export function schemaSecrets(schema: {properties?: Record<string, {writeOnly?: boolean; 'x-secret'?: boolean} | undefined>}): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([name, prop]) => prop?.writeOnly === true || prop?.['x-secret'] === true || SECRET_NAME.test(name))
    .map(([name]) => name)
}

export function isSecretOption(name: string, secrets: Iterable<string> = []): boolean {
  for (const s of secrets) if (s === name) return true
  return SECRET_NAME.test(name)
}

/** Options with every secret value masked. */
export function maskOptions<T>(options: Record<string, T>, secrets: Iterable<string> = []): Record<string, T | string> {
  const marked = new Set(secrets)
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [k, isSecretOption(k, marked) ? MASK : v]))
}

/**
 * A location without the credentials it may carry: the password of `user:password@`
 * ("sftp://me:pw@host/x" → "sftp://me:********@host/x") and secret query parameters
 * ("s3://host/b?secret_access_key=…").
 */
export function redactLocation(location: string, secrets: Iterable<string> = []): string {
  const marked = new Set(secrets)
  let out = location.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@?#]*?):[^@/?#]*@/i, `$1:${MASK}@`)
  const q = out.indexOf('?')
  if (q >= 0) {
    const params = out
      .slice(q + 1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=')
        return eq > 0 && isSecretOption(decodeURIComponentSafe(pair.slice(0, eq)), marked) ? `${pair.slice(0, eq + 1)}${MASK}` : pair
      })
    out = `${out.slice(0, q + 1)}${params.join('&')}`
  }
  return out
}

/**
 * A command line without secrets, as a snapshot records it and as `info` shows it: the value of
 * every `KEY=VALUE` argument (`-o KEY=VALUE`, `--option=KEY=VALUE`, a bare option of
 * `store add`) whose KEY is secret, and the credentials of every location.
 */
export function redactArgs(argv: readonly string[], secrets: Iterable<string> = []): string[] {
  const marked = new Set(secrets)
  return argv.map((arg) => {
    // "--option=key=value", "-okey=value", "key=value"
    const m = /^(--?[a-z-]+=|-[a-z](?=[^=]+=))?([^=\s/]+)=(.*)$/is.exec(arg)
    if (m && isSecretOption(m[2].replace(/^-+/, ''), marked)) return `${m[1] ?? ''}${m[2]}=${MASK}`
    return arg.includes('://') ? arg.replace(/[a-z][a-z0-9+.-]*:\/\/\S*/gi, (loc) => redactLocation(loc, marked)) : arg
  })
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

import type {HealthCheck} from './task-file.js'

/**
 * Pings a health-check URL (healthchecks.io, Uptime Kuma, any HTTP endpoint) after a run: the
 * URL itself on success, URL + "/fail" on failure, as healthchecks.io expects; the body is the
 * run's one-line outcome. A ping that fails is reported, never thrown: it must not fail the run.
 */
export async function pingHealthCheck(check: HealthCheck, outcome: {ok: boolean; message: string}): Promise<string | undefined> {
  const url = outcome.ok ? check.url : `${check.url.replace(/\/+$/, '')}/fail`
  try {
    const response = await fetch(url, {method: 'POST', body: outcome.message, signal: AbortSignal.timeout(check.timeoutMs), headers: {'content-type': 'text/plain; charset=utf-8'}})
    await response.body?.cancel()
    if (!response.ok) return `health check ${redactUrl(url)} answered ${response.status}`
    return undefined
  } catch (error) {
    const inner = (error as {cause?: {code?: string; message?: string; errors?: {code?: string}[]}}).cause
    const cause = inner?.code ?? inner?.errors?.[0]?.code ?? inner?.message
    const why = (error as Error).name === 'TimeoutError' ? `no answer in ${Math.round(check.timeoutMs / 1000)}s` : (cause ?? (error as Error).message)
    return `health check ${redactUrl(url)} failed: ${why}`
  }
}

/** A URL as logs may show it: health-check URLs often carry a secret token in their path or query. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}/…`
  } catch {
    return '(invalid URL)'
  }
}

import {afterEach, describe, expect, it} from 'vitest'
import {runHook} from '../src/hooks.js'

const context = {task: 'home', kind: 'backup', status: 'success' as const, snapshot: 'ab'.repeat(32), durationMs: 1234, runId: 7}
const saved = process.env.PLAKAR_PASSPHRASE

afterEach(() => {
  if (saved === undefined) delete process.env.PLAKAR_PASSPHRASE
  else process.env.PLAKAR_PASSPHRASE = saved
})

describe('hooks (real processes through execa)', () => {
  it('get the run in their environment, never the passphrase', async () => {
    process.env.PLAKAR_PASSPHRASE = 'secret-passphrase'
    const r = await runHook('echo "$PLAKAR_TASK $PLAKAR_TASK_KIND $PLAKAR_STATUS $PLAKAR_SNAPSHOT $PLAKAR_DURATION_MS $PLAKAR_RUN_ID ${PLAKAR_PASSPHRASE:-unset}"', context, {timeoutMs: 10_000})
    expect(r).toEqual({ok: true, output: `home backup success ${'ab'.repeat(32)} 1234 7 unset`})
  })

  it('a list runs without a shell; a failure is a one-line reason, never thrown', async () => {
    expect(await runHook(['echo', '$PLAKAR_TASK'], context, {timeoutMs: 10_000})).toEqual({ok: true, output: '$PLAKAR_TASK'})
    expect(await runHook('echo oops >&2; exit 4', context, {timeoutMs: 10_000})).toEqual({ok: false, message: 'exit code 4', output: 'oops'})
    const missing = await runHook(['/nonexistent/hook'], context, {timeoutMs: 10_000})
    expect(missing.ok).toBe(false)
    expect(missing.message).toMatch(/ENOENT|not found|no such file/i)
  })

  it('is killed after its timeout', async () => {
    const r = await runHook(['sleep', '60'], context, {timeoutMs: 300})
    expect(r).toMatchObject({ok: false, message: 'timed out after 300ms'})
  })
})

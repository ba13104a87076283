import {execFile} from 'node:child_process'
import {join} from 'node:path'
import {promisify} from 'node:util'
import type {TestService} from './service.js'

const run = promisify(execFile)
const SCRIPTS = join(import.meta.dirname, '..', '..', '..', 'scripts', 'services')

/**
 * verdaccio 6.8, the private npm registry of the plugin tests: 127.0.0.1:<free port>, a fresh
 * storage per run and no uplink, so it serves exactly what the tests publish (@plakar/sdk packed
 * from this checkout, scaffolded plugins) and nothing can come from the public registry by
 * mistake. Installed once into test/.verdaccio (gitignored) by scripts/services/verdaccio-install.sh,
 * started by verdaccio-up.sh (≈1 s). Exports VERDACCIO_URL (ends with "/"), VERDACCIO_TOKEN
 * (a publish token of its user "ci") and VERDACCIO_WORK.
 */
let work: string | undefined

export const verdaccio: TestService = {
  name: 'verdaccio',
  async start() {
    const {stdout} = await run('bash', [join(SCRIPTS, 'verdaccio-up.sh')], {timeout: 300_000}).catch((error) => {
      throw new Error(`verdaccio did not start: ${String(error.stderr ?? error.message).trim().split('\n').slice(-10).join('\n')}`)
    })
    const env: Record<string, string> = {}
    for (const line of stdout.split('\n')) {
      const m = /^(VERDACCIO_[A-Z]+)=(.*)$/.exec(line.trim())
      if (m) env[m[1]] = m[2]
    }
    if (!env.VERDACCIO_URL || !env.VERDACCIO_TOKEN || !env.VERDACCIO_WORK) throw new Error(`verdaccio: unexpected output from verdaccio-up.sh: ${stdout}`)
    work = env.VERDACCIO_WORK
    return env
  },
  async stop() {
    if (!work) return
    await run('bash', [join(SCRIPTS, 'verdaccio-down.sh'), work], {timeout: 30_000})
    work = undefined
  },
}

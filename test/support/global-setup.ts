import {services} from './services/index.js'
import type {TestService} from './services/service.js'

/**
 * Starts the real services once for the whole run and exports their settings to the
 * environment, which the test workers inherit. PLAKAR_TEST_SERVICES=name,name (or "none")
 * narrows the set for a quick local run; CI starts them all. A service that fails to start
 * fails the run: tests against it must never be silently skipped.
 */
const started: TestService[] = []

export async function setup(): Promise<void> {
  const wanted = process.env.PLAKAR_TEST_SERVICES
  const chosen =
    wanted === undefined || wanted === 'all'
      ? services
      : wanted === 'none'
        ? []
        : services.filter((s) => wanted.split(',').includes(s.name))
  for (const service of chosen) {
    const t0 = Date.now()
    const env = await service.start()
    started.push(service)
    Object.assign(process.env, env)
    process.stdout.write(`service ${service.name} up in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`)
  }
}

export async function teardown(): Promise<void> {
  for (const service of started.reverse()) await service.stop().catch((error) => process.stderr.write(`stopping ${service.name}: ${error}\n`))
}

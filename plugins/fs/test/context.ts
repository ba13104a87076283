import {execFileSync} from 'node:child_process'
import {rm} from 'node:fs/promises'
import type {ConnectorContext} from '@plakar/sdk'

/** The context the core hands a connector factory, for a location of this plugin. */
export function context(location: string): ConnectorContext {
  const quiet = () => {}
  return {location, scheme: 'fs', config: {}, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: '/nonexistent-cache'}
}

/** Removes a test tree, even with mode-000 or read-only directories in it (as a non-root user). */
export async function removeTree(dir: string): Promise<void> {
  execFileSync('chmod', ['-R', 'u+rwX', dir])
  await rm(dir, {recursive: true, force: true})
}

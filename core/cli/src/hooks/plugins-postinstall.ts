import type {Hook} from '@oclif/core'
import {readFile, writeFile} from 'node:fs/promises'
import {isAbsolute, join, resolve} from 'node:path'

interface UserPlugin {
  name: string
  type: string
  url?: string
  tag?: string
}

const TARBALL = /\.(tgz|tar\.gz|tar)$/

/** A `file:` spec that names a directory (npm links those; tarballs it unpacks). */
function directorySpec(spec: unknown): spec is string {
  return typeof spec === 'string' && spec.startsWith('file:') && !TARBALL.test(spec)
}

/**
 * Repairs the record of plugins installed from a directory (`plakar plugins install file:/dir`).
 * @oclif/plugin-plugins 5.5 finds the name of what it just installed by comparing the `file:`
 * spec with the dependencies npm recorded; for directories it takes the first directory
 * dependency whatever its path, so a second directory plugin is recorded under the first one's
 * name (and the first one is lost). npm's own `dependencies` are right: rebuild the directory
 * entries of `oclif.plugins` from them. Runs after every `plakar plugins install`.
 */
export async function repairDirectoryPlugins(dataDir: string): Promise<boolean> {
  const file = join(dataDir, 'package.json')
  let pjson: {dependencies?: Record<string, string>; oclif?: {plugins?: (UserPlugin | string)[]}}
  try {
    pjson = JSON.parse(await readFile(file, 'utf8'))
  } catch {
    return false
  }
  const plugins = pjson.oclif?.plugins ?? []
  const directories = Object.entries(pjson.dependencies ?? {}).filter(([, spec]) => directorySpec(spec))
  const recorded = plugins.filter((p): p is UserPlugin => typeof p === 'object' && p.type === 'user' && directorySpec(p.url))
  const wanted = directories.map(([name, spec]) => {
    const path = spec.slice('file:'.length)
    return {name, type: 'user', url: `file:${isAbsolute(path) ? path : resolve(dataDir, path)}`}
  })
  const same =
    recorded.length === wanted.length && wanted.every((w) => recorded.some((r) => r.name === w.name && resolve(r.url!.slice(5)) === resolve(w.url.slice(5))))
  if (same) return false
  pjson.oclif = {...pjson.oclif, plugins: [...plugins.filter((p) => !recorded.includes(p as UserPlugin)), ...wanted]}
  await writeFile(file, JSON.stringify(pjson, null, 2))
  return true
}

const hook: Hook<'plugins:postinstall'> = async function () {
  await repairDirectoryPlugins(this.config.dataDir)
}

export default hook

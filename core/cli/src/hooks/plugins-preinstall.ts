import type {Hook} from '@oclif/core'
import {existsSync} from 'node:fs'
import {isAbsolute, resolve} from 'node:path'

const GITHUB = 'https://github.com/'

/**
 * Local paths given to `plakar plugins install`, made what the user meant. @oclif/plugin-plugins
 * reads `/abs/plugin.tgz` or `./dir` as a GitHub repository (`https://github.com/…`), and npm
 * resolves a relative `file:` spec from plakar's data directory, where it runs. An argument that
 * names an existing file or directory becomes `file:/absolute/path`; anything else is untouched.
 */
export function localSpec(url: string, cwd = process.cwd()): string | undefined {
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length)
    return path.startsWith('//') || isAbsolute(path) ? undefined : `file:${resolve(cwd, path)}`
  }
  if (url.startsWith(GITHUB)) {
    const path = url.slice(GITHUB.length)
    if ((isAbsolute(path) || path.startsWith('.')) && existsSync(resolve(cwd, path))) return `file:${resolve(cwd, path)}`
  }
  return undefined
}

const hook: Hook<'plugins:preinstall'> = async function (options) {
  const plugin = (options as {plugin?: {type?: string; url?: string}}).plugin
  if (plugin?.type !== 'repo' || typeof plugin.url !== 'string') return
  const fixed = localSpec(plugin.url)
  if (fixed) plugin.url = fixed
}

export default hook

import {Args, Config, Flags, ux} from '@oclif/core'
import {NotFoundError, PlakarError} from '@plakar/sdk'
import {PlakarCommand} from '../../cli/base-command.js'

/**
 * `plugins install` as plakar's other commands behave: one line while it works and one line of
 * result, npm's own output only with --debug, and a failure said in one line (npm's first error,
 * not its whole log) with a documented exit code. The installing itself is @oclif/plugin-plugins'
 * (its hooks, data directory and registry handling stay as they are): this command runs it,
 * with npm's output captured. A root command wins over a plugin's of the same id.
 */
export default class PluginsInstall extends PlakarCommand {
  static override summary = 'install plugins from npm, a private registry, a tarball or a directory'
  static override description =
    'Installs each PLUGIN (a package name, NAME@VERSION, @scope/NAME, file:/path/to/plugin.tgz, file:/path/to/dir, or an existing path) into plakar\'s data directory with npm. Prints one line per plugin; npm\'s output is shown with --debug, and summarised in one line when it fails.'

  static override strict = false
  static override args = {plugin: Args.string({required: true, description: 'the plugin to install'})}
  static override flags = {
    force: Flags.boolean({char: 'f', description: 'install even when npm reports conflicts (npm install --force)'}),
  }

  static override examples = [
    'plakar plugins install @acme/plakar-importer-crm',
    'plakar plugins install file:/home/me/crm/acme-plakar-importer-crm-0.1.0.tgz',
    'plakar plugins install ./crm',
  ]

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(PluginsInstall)
    const {commands} = await import('@oclif/plugin-plugins')
    const Install = commands['plugins:install']
    const args = [...(argv as string[]), ...(flags.force ? ['--force'] : []), ...(this.settings.debug ? ['--verbose'] : [])]
    const before = new Map([...this.config.plugins].map(([name, plugin]) => [name, plugin.version]))
    const quiet = this.settings.json && !this.settings.debug ? silenceAction() : () => {}
    try {
      if (this.settings.debug) {
        await Install.run(args, this.config)
      } else {
        await captureStdout(() => Install.run(args, this.config)).catch((failure: {error: Error; lines: string[]}) => {
          throw installError(failure.error, failure.lines, argv as string[])
        })
      }
    } finally {
      quiet()
    }
    if (this.settings.json) {
      // Install.run loads a configuration of its own and records the plugin there, not in ours:
      // the plugins are read again, as the next run of plakar will see them.
      const after = await Config.load(this.config.root)
      for (const [name, plugin] of after.plugins) if (before.get(name) !== plugin.version) this.printJson({name, version: plugin.version})
    }
  }
}

/**
 * Under --json standard error carries JSON only: plugin-plugins' progress line (ux.action, which
 * writes through its own saved copy of process.stderr.write) is switched off until the returned
 * function is called.
 */
function silenceAction(): () => void {
  const action = ux.action as unknown as {_write: (std: string, s: string | string[]) => void}
  const write = action._write
  action._write = function (std, s) {
    if (std !== 'stderr') write.call(this, std, s)
  }
  return () => {
    delete (action as Partial<typeof action>)._write
  }
}

/**
 * Runs `fn` with what is written to standard output held back (plugin-plugins prints npm's
 * lines there); given back with the error when `fn` fails. The progress line goes to standard
 * error and is untouched.
 */
async function captureStdout<T>(fn: () => Promise<T>): Promise<string[]> {
  const lines: string[] = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(...String(chunk).split('\n').filter((l) => l.trim() !== ''))
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined
    done?.()
    return true
  }) as typeof process.stdout.write
  try {
    await fn()
    return lines
  } catch (error) {
    throw {error, lines}
  } finally {
    process.stdout.write = write
  }
}

/** What npm said went wrong, in one line: its first error line that says something. */
export function npmSummary(lines: string[]): {message?: string; code?: string} {
  let code: string | undefined
  let message: string | undefined
  for (const line of lines) {
    const m = /^npm (?:error|ERR!) (.*)$/.exec(line.trim())
    if (!m) continue
    const text = m[1].trim()
    const field = /^(code|errno|syscall|path|A complete log)\b\s*(.*)$/.exec(text)
    if (field) {
      if (field[1] === 'code') code ??= field[2]
      continue
    }
    // "404 Not Found - GET …", "enoent Could not read …": drop the repeated code word.
    message ??= text.replace(/^(?:[A-Z]?\d{3}|[a-z]+[A-Z]*)\s+(?=[A-Z'])/, '').replace(/Error: /g, '')
  }
  return {message, code}
}

function installError(error: Error, lines: string[], plugins: string[]): Error {
  const what = plugins.join(', ')
  // plugin-plugins' own refusals are one line already; their exit status is 1, as documented.
  if (/plugin is invalid/.test(error.message)) return new PlakarError(`cannot install ${what}: plugin is invalid: its package.json has no "oclif" field`)
  if (!/exited with code/.test(error.message)) return new PlakarError(`cannot install ${what}: ${error.message}`)
  const {message, code} = npmSummary(lines)
  const said = message ?? `npm failed (${error.message.replace(/^.*exited with code/, 'exit code')})`
  const hint = 'run it again with --debug for npm\'s whole output'
  if (code === 'E404' || code === 'ENOENT' || /\b404\b/.test(said)) return new NotFoundError(`cannot install ${what}: ${said} (${hint})`)
  return new PlakarError(`cannot install ${what}: ${said} (${hint})`)
}

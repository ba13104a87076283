import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {pathToFileURL} from 'node:url'
import {describe, expect, it} from 'vitest'
import {ROOT} from '../support/cli.js'

/**
 * oclif.manifest.json is what oclif reads to list commands and their flags without loading
 * them. A stale one hides new commands and flags, or advertises removed ones: it must describe
 * exactly the commands built in core/cli/dist/commands, which must be those of core/cli/src/commands.
 * Fix a failure with `npm run build`.
 */
const SRC = join(ROOT, 'core', 'cli', 'src', 'commands')
const DIST = join(ROOT, 'core', 'cli', 'dist', 'commands')

/** Command ids of a commands directory, the way oclif names them ("store/add.js" → "store:add"). */
function commandFiles(dir: string, ext: '.ts' | '.js'): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, {withFileTypes: true})) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith(ext) && !entry.name.endsWith(`.d${ext}`) && !/\.(test|spec)\./.test(entry.name)) {
        const id = relative(dir, path).slice(0, -ext.length).split('/').filter((p) => p !== 'index').join(':')
        out.set(id, path)
      }
    }
  }
  if (existsSync(dir)) walk(dir)
  return out
}

type Json = Record<string, unknown>

/** The parts of a flag that oclif caches and that help and parsing depend on. */
function flagShape(flag: Json): Json {
  const boolean = flag.type === 'boolean'
  const shape: Json = {
    type: boolean ? 'boolean' : 'option',
    char: flag.char,
    summary: flag.summary,
    description: flag.description,
    helpGroup: flag.helpGroup,
    helpValue: flag.helpValue,
    hidden: !!flag.hidden,
    required: !!flag.required,
    multiple: !!flag.multiple,
    options: flag.options,
    allowNo: boolean ? !!flag.allowNo : undefined,
    default: typeof flag.default === 'function' ? undefined : flag.default,
    aliases: flag.aliases,
    charAliases: flag.charAliases,
    env: flag.env,
  }
  return Object.fromEntries(Object.entries(shape).filter(([, v]) => v !== undefined))
}

function argShape(arg: Json): Json {
  const shape: Json = {description: arg.description, required: !!arg.required, hidden: !!arg.hidden, multiple: !!arg.multiple, options: arg.options}
  return Object.fromEntries(Object.entries(shape).filter(([, v]) => v !== undefined))
}

function commandShape(command: Json): Json {
  const flags = (command.flags ?? {}) as Record<string, Json>
  const args = (command.args ?? {}) as Record<string, Json>
  return {
    summary: command.summary,
    description: command.description,
    examples: command.examples ?? [],
    aliases: command.aliases ?? [],
    hidden: !!command.hidden,
    strict: command.strict !== false,
    args: Object.entries(args).map(([name, arg]) => ({name, ...argShape(arg)})),
    flags: Object.fromEntries(Object.entries(flags).sort(([a], [b]) => a.localeCompare(b)).map(([name, flag]) => [name, flagShape(flag)])),
  }
}

/**
 * The statics oclif caches for a command class, collected as oclif's `cacheCommand` does: up the
 * prototype chain, but only while each ancestor has static properties of its own (an ancestor
 * without any ends the walk, and what lies above it is not seen). Replicated rather than
 * "fixed", so that this test compares the manifest with what `oclif manifest` writes today.
 */
function oclifStatics(cls: Json): Json {
  const merge = (result: Json, cmd: Json): Json => {
    const proto = Object.getPrototypeOf(cmd) as Json
    const own = Object.fromEntries(Object.entries(proto).filter(([, v]) => v !== undefined))
    return Object.keys(proto).length > 0 ? merge({...own, ...result}, proto) : result
  }
  return merge(cls, cls)
}

/** What oclif would cache for a command class: its statics, base flags before its own flags. */
function classShape(cls: Json): Json {
  const statics = oclifStatics(cls) as Json & {baseFlags?: Json; flags?: Json}
  return commandShape({...pick(statics), flags: {...(statics.baseFlags ?? {}), ...(statics.flags ?? {})}})
}

function pick(cls: Json): Json {
  const keys = ['summary', 'description', 'examples', 'aliases', 'hidden', 'strict', 'args']
  return Object.fromEntries(keys.map((k) => [k, cls[k]]))
}

describe('oclif.manifest.json', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {version: string; commands: Record<string, Json>}
  const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {version: string}

  it('is the manifest of this version', () => {
    expect(manifest.version).toBe(pjson.version)
  })

  it('core/cli/dist/commands is built from core/cli/src/commands', () => {
    const src = [...commandFiles(SRC, '.ts').keys()].sort()
    const dist = [...commandFiles(DIST, '.js').keys()].sort()
    expect(dist, 'core/cli/dist is stale: run npm run build').toEqual(src)
  })

  it('lists exactly the commands of core/cli/dist/commands, with the same flags, arguments and texts', async () => {
    const problems: string[] = []
    const built = commandFiles(DIST, '.js')
    const listed = new Set(Object.keys(manifest.commands))
    for (const [id, file] of built) {
      const module = (await import(pathToFileURL(file).href)) as {default?: unknown}
      const cls = module.default as ((abstract new () => {run?: unknown}) & Json) | undefined
      if (typeof cls !== 'function' || typeof cls.prototype?.run !== 'function') continue
      if (!listed.has(id)) {
        problems.push(`${id}: built but missing from the manifest`)
        continue
      }
      listed.delete(id)
      const expected = classShape(cls)
      const actual = commandShape(manifest.commands[id])
      for (const key of Object.keys(expected)) {
        if (JSON.stringify(expected[key]) !== JSON.stringify(actual[key])) {
          problems.push(`${id}: ${key} differs\n  code:     ${JSON.stringify(expected[key])}\n  manifest: ${JSON.stringify(actual[key])}`)
        }
      }
    }
    for (const id of listed) problems.push(`${id}: in the manifest but no longer built`)
    expect(problems, 'oclif.manifest.json is stale: run npm run build').toEqual([])
  })
})

describe('the manifest check', () => {
  it('notices a changed flag', () => {
    const base = {summary: 's', flags: {tag: {type: 'option', description: 'a tag', multiple: true}}}
    expect(commandShape(base)).toEqual(classShape(base as never))
    const changed = {summary: 's', flags: {tag: {type: 'option', description: 'a tag'}}}
    expect(commandShape(changed)).not.toEqual(classShape(base as never))
    expect(commandShape({...base, flags: {}})).not.toEqual(classShape(base as never))
  })
})

/**
 * One JSON vocabulary (docs/json.md): every field name that any command prints under --json is
 * defined once in the reference table of docs/json.md, with one meaning, and the names that
 * commands used to disagree on (`snapshot` for a snapshot's own id, `duration`, `added`, `to`,
 * `repository`) are gone. The commands run for real against one repository.
 */
import {execa} from 'execa'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, ROOT, type Plakar} from '../support/cli.js'
import {backup, setup} from '../e2e/helpers.js'
import {SCHEMA_DIR, schemaValidator} from '../support/json-schema.js'
import {isolatedPlakar, writePackage} from '../plugins/helpers.js'

/** Field names of the reference table, and the fields whose value is a map of data keys. */
function vocabulary(): {fields: Set<string>; maps: Set<string>} {
  const text = readFileSync(join(ROOT, 'docs', 'json.md'), 'utf8')
  const fields = new Set<string>()
  const maps = new Set<string>()
  for (const row of text.matchAll(/^\| `([A-Za-z]+)` \|([^|]*)\|([^|]*)\|/gm)) {
    fields.add(row[1])
    if (/\bmap\b/.test(row[2])) maps.add(row[1])
  }
  return {fields, maps}
}

/** Every key of a JSON value, with its path, except inside data maps. */
function keys(value: unknown, maps: Set<string>, at = '', out: {key: string; at: string}[] = []): {key: string; at: string}[] {
  if (Array.isArray(value)) value.forEach((v) => keys(v, maps, `${at}[]`, out))
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push({key: k, at: `${at}.${k}`})
      if (!maps.has(k)) keys(v, maps, `${at}.${k}`, out)
    }
  }
  return out
}

describe('one JSON vocabulary across commands', () => {
  const env = setup('plakar-json-')
  const src = join(env.s.dir, 'src')
  /** command line → the JSON values it printed (stdout, and stderr for errors and warnings). */
  const outputs = new Map<string, unknown[]>()
  /** command line → its words as run, and what it printed on each stream. */
  const streams = new Map<string, {args: string[]; stdout: unknown[]; stderr: unknown[]}>()

  const parseLines = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as unknown)

  async function record(args: string[], expected = 0, options: {env?: Record<string, string>; plakar?: Plakar} = {}): Promise<unknown[]> {
    const r = await (options.plakar ?? env.plakar).ok([...args, '--json'], {expected, env: options.env})
    const stdout = parseLines(String(r.stdout))
    const stderr = parseLines(String(r.stderr))
    const key = args.filter((a) => !a.startsWith('/')).join(' ')
    outputs.set(key, [...stdout, ...stderr])
    streams.set(key, {args, stdout, stderr})
    const values = [...stdout, ...stderr]
    return values
  }

  /**
   * A command that runs until stopped (`ui`, `mount`): its first line of standard output, printed
   * once it serves, then Ctrl-C and what it printed on standard error.
   */
  async function recordFirstLine(args: string[]): Promise<void> {
    const child = execa('node', [BIN, ...args, '--json'], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home, buffer: {stdout: false, stderr: true}})
    let first: string | undefined
    for await (const line of createInterface({input: child.stdout!})) {
      first = line
      break
    }
    child.kill('SIGINT')
    const r = await child
    expect(first, `plakar ${args.join(' ')} printed nothing: ${String(r.stderr)}`).toBeDefined()
    expect(r.exitCode).toBe(130)
    const stdout = parseLines(first!)
    const stderr = parseLines(String(r.stderr))
    const key = args.filter((a) => !a.startsWith('/')).join(' ')
    outputs.set(key, [...stdout, ...stderr])
    streams.set(key, {args, stdout, stderr})
  }

  beforeAll(async () => {
    await mkdir(join(src, 'sub'), {recursive: true})
    writeFileSync(join(src, 'a.txt'), 'hello\n')
    writeFileSync(join(src, 'sub', 'b.md'), '# b\n')
    await record(env.at('create'))
    const [first] = (await record(env.at('backup', '--tag', 'daily', src))) as {id: string}[]
    writeFileSync(join(src, 'a.txt'), 'hello again\n')
    writeFileSync(join(src, 'c.txt'), 'new\n')
    const second = (await backup(env, [src])).id
    await record(env.at('ls'))
    await record(env.at('ls', first.id))
    await record(env.at('ls', '-R', `${second}:${src}`))
    await record(env.at('info'))
    await record(env.at('info', second))
    await record(env.at('check'))
    await record(env.at('restore', '--to', join(env.s.dir, 'restored'), first.id))
    await record(env.at('locate', '*.txt'))
    await record(env.at('diff', first.id, second))
    await record(env.at('diff', `${first.id}:${join(src, 'a.txt')}`, `${second}:${join(src, 'a.txt')}`))
    await record(env.at('tag', '--add', 'kept', second))
    await record(env.at('rm', first.id))
    await record(env.at('prune', '--keep-last', '1'))
    await record(env.at('archive', '--output', join(env.s.dir, 'a.tar'), second))
    await record(['at', join(env.s.dir, 'peer'), 'create', '--from', env.repo])
    await record(env.at('sync', '--dry-run', 'to', join(env.s.dir, 'peer')))
    await record(env.at('sync', 'to', join(env.s.dir, 'peer')))
    await record(['version'])
    await record(['plugins', 'ls'])
    await record(['store', 'add', 'home', env.repo])
    await record(['store', 'ls'])
    await record(['store', 'show', 'home'])
    await record(['store', 'rm', 'home'])
    await record(['source', 'add', 'docs', src])
    await record(['source', 'ls'])
    await record(['source', 'show', 'docs'])
    await record(['source', 'rm', 'docs'])
    await record(['destination', 'add', 'scratch', join(env.s.dir, 'scratch')])
    await record(['destination', 'ls'])
    await record(['destination', 'show', 'scratch'])
    await record(['destination', 'rm', 'scratch'])
    await record(['policy', 'add', 'standard', '--keep-daily', '7', '--keep-last', '2'])
    await record(['policy', 'ls'])
    await record(['policy', 'rm', 'standard'])
    await record(env.at('maintenance', '--dry-run'))
    await record(env.at('maintenance', '--grace', '0'))
    await record(env.at('repair', '--dry-run'))
    await record(env.at('repair'))
    // The same passphrase again (the commands below still open the repository), cheaper costs.
    await record(env.at('passphrase', '--kdf-memory', '8192', '--kdf-iterations', '1'), 0, {env: {PLAKAR_NEW_PASSPHRASE: 'correct horse battery staple'}})
    // A real install (npm, from a package directory) into a plakar of its own.
    const pkg = await writePackage(join(env.s.dir, 'packages', 'json'), {name: '@acme/plakar-json', plakar: {contract: 1, connectors: []}})
    await record(['plugins', 'install', `file:${pkg}`], 0, {plakar: isolatedPlakar(join(env.s.dir, 'plugins-home'))})
    await recordFirstLine(env.at('ui', '--no-open'))
    await recordFirstLine(env.at('mount'))
    await record(['scaffold', 'importer', 'vocab', '--dir', join(env.s.dir, 'scaffolded')])
    // The agent: every task kind once, its history, its task file's problems.
    await env.plakar.ok(['policy', 'add', 'few', '--keep-last', '5'])
    const tasks = join(env.s.dir, 'agent.yaml')
    const kinds = `backup:\n    kind: backup\n    source: ${src}\n    every: 1h\n  verify:\n    kind: check\n    every: 1h\n  drill:\n    kind: restore-test\n    every: 1h\n  offsite:\n    kind: sync\n    to: ${join(env.s.dir, 'peer')}\n    every: 1h\n  retention:\n    kind: prune\n    policy: few\n    every: 1h\n  space:\n    kind: maintenance\n    every: 1h\n`
    writeFileSync(tasks, `repository: ${env.repo}\ntasks:\n  ${kinds}`)
    await record(['agent', 'validate', '-c', tasks])
    await record(['agent', 'run-once', '-c', tasks])
    await record(['agent', 'status', '-c', tasks, '--runs', '10'])
    // Started, then stopped: `stop` then reports the daemon it stopped.
    await record(['agent', 'start', '-c', tasks])
    await record(['agent', 'stop', '-c', tasks])
    writeFileSync(join(env.s.dir, 'bad.yaml'), 'tasks:\n  x:\n    kind: nope\n')
    await record(['agent', 'validate', '-c', join(env.s.dir, 'bad.yaml')], 2)
    // Errors and warnings are JSON on stderr.
    await record(env.at('ls', 'ffffffffffff'), 66)
    await record(['bakup'], 2)
    await record(['cat'], 2)
  }, 600_000)
  afterAll(() => env.s.cleanup())

  it('every field any command prints is defined in docs/json.md', () => {
    const {fields, maps} = vocabulary()
    expect(fields.size).toBeGreaterThan(20)
    const undefinedFields: string[] = []
    for (const [command, values] of outputs) {
      for (const {key, at} of keys(values, maps)) if (!fields.has(key)) undefinedFields.push(`plakar ${command}: ${at}`)
    }
    expect([...new Set(undefinedFields)]).toEqual([])
  })

  it('the same thing has the same name: ids, durations, byte counts, targets', () => {
    const all = [...outputs.values()].flatMap((values) => keys(values, new Set()).map((k) => k.key))
    for (const retired of ['duration', 'added', 'to', 'from', 'repository', 'snapshotId', 'elapsed', 'bytesMoved', 'bytesSaved', 'bytesToMove']) expect(all, retired).not.toContain(retired)
    // A snapshot's own id is `id` wherever a command describes a snapshot…
    const [created] = outputs.get('at backup --tag daily') as {id: string}[]
    expect(created.id).toMatch(/^[0-9a-f]{64}$/)
    const listed = outputs.get('at ls') as {id: string}[]
    expect(listed.map((s) => s.id)).toContain(created.id)
    // …and `snapshot` where a path, a restore or a problem belongs to one.
    const found = outputs.get('at locate *.txt') as {snapshot: string; path: string}[]
    expect(found.length).toBeGreaterThan(0)
    for (const f of found) expect(Object.keys(f).sort()).toEqual(['path', 'snapshot'])
    const [restored] = outputs.get('at restore --to') ?? [...outputs.entries()].find(([k]) => k.startsWith('at restore'))![1]
    expect(restored).toMatchObject({snapshot: created.id, target: expect.any(String)})
    // Errors: {error, exitCode}.
    expect(outputs.get('bakup')).toEqual([{error: expect.stringContaining('did you mean'), exitCode: 2}])
  })

  it('repair, passphrase and plugins install print their result', () => {
    const byCommand = (prefix: string) => [...streams.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v.stdout)
    expect(byCommand('at repair --dry-run')).toEqual([[expect.objectContaining({dryRun: true, lostPackfiles: [], damaged: 0, repaired: 0, unrepairable: []})]])
    expect(byCommand('at passphrase')).toEqual([[{location: env.repo, kdf: {algorithm: 'argon2id', memory: 8192, iterations: 1, parallelism: 2}}]])
    expect(byCommand('plugins install')).toEqual([[{name: '@acme/plakar-json', version: '1.0.0'}]])
  })

  it('every line matches its command\'s JSON Schema in docs/json (ajv), and standard error the common one', () => {
    const ajv = schemaValidator()
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    const ids = new Set(Object.keys(manifest.commands).map((id) => id.replaceAll(':', ' ')))
    const stderrLine = ajv.compile({anyOf: [{$ref: 'common.schema.json#/$defs/error'}, {$ref: 'common.schema.json#/$defs/message'}]})
    const failures: string[] = []
    let validated = 0
    for (const [key, {args, stdout, stderr}] of streams) {
      const words = args.filter((a) => !a.startsWith('-')).slice(args[0] === 'at' ? 2 : 0)
      let command: string | undefined
      for (let n = words.length; n > 0 && !command; n--) if (ids.has(words.slice(0, n).join(' '))) command = words.slice(0, n).join(' ')
      for (const line of stderr) if (!stderrLine(line)) failures.push(`plakar ${key} (stderr): ${ajv.errorsText(stderrLine.errors)}`)
      if (!command) continue // a usage error: nothing on standard output
      const name = `${command.replaceAll(' ', '-')}.schema.json`
      const validate = ajv.getSchema(name)
      if (!validate) {
        if (stdout.length > 0) failures.push(`plakar ${key}: no schema docs/json/${name}`)
        continue
      }
      for (const line of stdout) {
        validated++
        if (!validate(line)) failures.push(`plakar ${key}: ${ajv.errorsText(validate.errors)}`)
      }
    }
    expect(failures).toEqual([])
    expect(validated).toBeGreaterThan(20)
  })

  it('every command has a schema, but those whose standard output is not JSON (file content, help, completions)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    const schemas = new Set(readdirSync(SCHEMA_DIR))
    const without = Object.keys(manifest.commands).filter((id) => !schemas.has(`${id.replaceAll(':', '-')}.schema.json`))
    // agent:run-task (hidden) is the agent's task process: it prints nothing, it talks over IPC.
    expect(without.sort()).toEqual(['agent:run-task', 'cat', 'complete', 'completion', 'help'])
  })

  it('a schema is strict: a field it does not describe fails it', () => {
    const ajv = schemaValidator({allErrors: false})
    const [line] = streams.get('at check')!.stdout as Record<string, unknown>[]
    expect(ajv.validate('check.schema.json', line)).toBe(true)
    expect(ajv.validate('check.schema.json', {...line, elapsed: 3})).toBe(false)
    expect(ajv.validate('check.schema.json', {...line, ok: 'yes'})).toBe(false)
  })
})

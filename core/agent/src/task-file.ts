import {readFileSync} from 'node:fs'
import {Ajv, type ErrorObject} from 'ajv'
import {Cron} from 'croner'
import {isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node} from 'yaml'
import {UsageError} from '@plakar/sdk'
import {parseDuration} from '@plakar/engine/engine/selection.js'

/**
 * The agent's task file: YAML (or JSON, which the YAML parser reads too, with the same source
 * positions) checked against a JSON Schema with ajv, then by rules a schema cannot say (a cron
 * expression parses, a duration is one). Every problem is reported at once, each with its line.
 */

export const TASK_KINDS = ['backup', 'check', 'restore-test', 'sync', 'prune', 'maintenance'] as const
export type TaskKind = (typeof TASK_KINDS)[number]
export const MISSED_POLICIES = ['skip', 'run'] as const
export type MissedPolicy = (typeof MISSED_POLICIES)[number]

/** A hook: a shell command line, or a program and its arguments (no shell). */
export type HookCommand = string | string[]

export interface Hooks {
  pre?: HookCommand
  post?: HookCommand
  failure?: HookCommand
  /** ms; a hook still running then is killed and counts as failed. */
  timeoutMs: number
}

export interface HealthCheck {
  url: string
  timeoutMs: number
}

interface TaskBase {
  name: string
  kind: TaskKind
  /** The repository: a location or @store (default: the file's `repository`). */
  repository: string
  keyfile?: string
  schedule: {every?: number; cron?: string}
  jitterMs: number
  missed: MissedPolicy
  /** ms; a run still going then is stopped (0: no limit). */
  timeoutMs: number
  hooks: Hooks
  healthCheck?: HealthCheck
  /** 1-based line of the task in the file, for messages. */
  line: number
  /** The line of each key of the task, for messages about its value. */
  lines: Record<string, number>
}

export interface BackupTask extends TaskBase {
  kind: 'backup'
  sources: string[]
  tags: string[]
  excludes: string[]
  snapshotName?: string
  options: Record<string, string>
}
export interface CheckTask extends TaskBase {
  kind: 'check'
  fast: boolean
}
export interface RestoreTestTask extends TaskBase {
  kind: 'restore-test'
  /** How many files of the latest snapshot are restored and compared. */
  sample: number
}
export interface SyncTask extends TaskBase {
  kind: 'sync'
  direction: 'to' | 'from' | 'with'
  peer: string
  peerKeyfile?: string
  peerOptions: Record<string, string>
}
export interface PruneTask extends TaskBase {
  kind: 'prune'
  policy: string
}
export interface MaintenanceTask extends TaskBase {
  kind: 'maintenance'
  graceMs?: number
}
export type Task = BackupTask | CheckTask | RestoreTestTask | SyncTask | PruneTask | MaintenanceTask

export interface TaskFile {
  path: string
  /** Where the run history and the log live (default: chosen by the caller from the file's path). */
  stateDir?: string
  log: {maxBytes: number; keep: number}
  /** ms the agent waits for running tasks on SIGTERM before it stops them. */
  shutdownTimeoutMs: number
  tasks: Task[]
}

/** One problem of a task file, at its line. */
export interface TaskFileProblem {
  line: number
  message: string
}

export class TaskFileError extends UsageError {
  readonly problems: TaskFileProblem[]
  /** The tasks that had no problem of their own (so that their references can be checked too). */
  partial?: TaskFile
  constructor(path: string, problems: TaskFileProblem[]) {
    const sorted = [...problems].sort((a, b) => a.line - b.line)
    super(`${path}: ${sorted.length} problem${sorted.length === 1 ? '' : 's'}: ${sorted.map((p) => `line ${p.line}: ${p.message}`).join('; ')}`)
    this.problems = sorted
  }
}

const DURATION = {type: 'string', pattern: '^\\s*(0+|(\\d+(min|y|m|w|d|h|s))+)\\s*$'}
const DURATION_OR_SECONDS = {anyOf: [DURATION, {type: 'integer', minimum: 0}]}
const HOOK = {anyOf: [{type: 'string', minLength: 1}, {type: 'array', minItems: 1, items: {type: 'string'}}]}
const STRINGS = {anyOf: [{type: 'string', minLength: 1}, {type: 'array', items: {type: 'string', minLength: 1}}]}
const OPTIONS = {type: 'object', additionalProperties: {type: ['string', 'number', 'boolean']}}

const COMMON = {
  kind: {enum: [...TASK_KINDS]},
  repository: {type: 'string', minLength: 1},
  keyfile: {type: 'string', minLength: 1},
  every: DURATION_OR_SECONDS,
  cron: {type: 'string', minLength: 1},
  jitter: DURATION_OR_SECONDS,
  missed: {enum: [...MISSED_POLICIES]},
  timeout: DURATION_OR_SECONDS,
  hooks: {
    type: 'object',
    additionalProperties: false,
    properties: {pre: HOOK, post: HOOK, failure: HOOK, timeout: DURATION_OR_SECONDS},
  },
  health_check: {
    anyOf: [
      {type: 'string', pattern: '^https?://'},
      {type: 'object', additionalProperties: false, required: ['url'], properties: {url: {type: 'string', pattern: '^https?://'}, timeout: DURATION_OR_SECONDS}},
    ],
  },
}

const BY_KIND: Record<TaskKind, {properties: Record<string, unknown>; required: string[]}> = {
  backup: {
    properties: {source: STRINGS, tags: STRINGS, excludes: STRINGS, name: {type: 'string', minLength: 1}, options: OPTIONS},
    required: ['source'],
  },
  check: {properties: {fast: {type: 'boolean'}}, required: []},
  'restore-test': {properties: {sample: {type: 'integer', minimum: 1, maximum: 100000}}, required: []},
  sync: {
    properties: {to: {type: 'string', minLength: 1}, from: {type: 'string', minLength: 1}, with: {type: 'string', minLength: 1}, peer_keyfile: {type: 'string', minLength: 1}, peer_options: OPTIONS},
    required: [],
  },
  prune: {properties: {policy: {type: 'string', minLength: 1}}, required: ['policy']},
  maintenance: {properties: {grace: DURATION_OR_SECONDS}, required: []},
}

/** The JSON Schema of a task file (docs/agent.md describes it key by key). */
export const TASK_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['tasks'],
  properties: {
    version: {const: 1},
    repository: {type: 'string', minLength: 1},
    keyfile: {type: 'string', minLength: 1},
    state_dir: {type: 'string', minLength: 1},
    shutdown_timeout: DURATION_OR_SECONDS,
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {max_size: {anyOf: [{type: 'integer', minimum: 1024}, {type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*(B|KiB|MiB|GiB|KB|MB|GB|k|M|G)?$'}]}, keep: {type: 'integer', minimum: 1, maximum: 100}},
    },
    tasks: {
      type: 'object',
      minProperties: 1,
      propertyNames: {pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'},
      additionalProperties: {
        type: 'object',
        required: ['kind'],
        properties: {kind: COMMON.kind},
        allOf: TASK_KINDS.map((kind) => ({
          if: {properties: {kind: {const: kind}}, required: ['kind']},
          then: {
            properties: {...COMMON, ...BY_KIND[kind].properties},
            required: BY_KIND[kind].required,
            additionalProperties: false,
          },
        })),
      },
    },
  },
} as const

let validator: ReturnType<Ajv['compile']> | undefined

/** Reads, parses and validates a task file; throws a TaskFileError naming every problem. */
export function loadTaskFile(path: string): TaskFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new UsageError(`cannot read the task file ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)}`)
  }
  return parseTaskFile(text, path)
}

export function parseTaskFile(text: string, path: string): TaskFile {
  const lines = new LineCounter()
  const doc = parseDocument(text, {lineCounter: lines, prettyErrors: false, uniqueKeys: true})
  const lineAt = (offset: number) => lines.linePos(offset).line
  const problems: TaskFileProblem[] = doc.errors.map((e) => ({line: lineAt(e.pos[0]), message: e.message.split('\n')[0]}))
  if (problems.length > 0) throw new TaskFileError(path, problems)
  const value = doc.toJS() as unknown
  validator ??= new Ajv({allErrors: true, strict: false}).compile(TASK_FILE_SCHEMA)
  // Tasks with schema errors are left out of the checks below; the others are checked too, so
  // that one run names every problem of the file.
  const broken = new Set<string>()
  let fileBroken = false
  if (!validator(value)) {
    for (const error of relevantErrors(validator.errors ?? [])) {
      problems.push({line: lineOf(doc, error, lineAt), message: describe(error)})
      const [top, name] = error.instancePath.split('/').slice(1).map(unescapePointer)
      if (top === 'tasks' && (name ?? badName(error)) !== undefined) broken.add((name ?? badName(error))!)
      else fileBroken = true
    }
    if (fileBroken) throw new TaskFileError(path, dedupe(problems))
  }
  const raw = value as RawFile
  const taskLine = (name: string, key?: string) => nodeLine(doc, key ? ['tasks', name, key] : ['tasks', name], lineAt, true)
  const tasks: Task[] = []
  for (const [name, t] of Object.entries(raw.tasks)) {
    // A task with schema errors is checked further too (every problem at once), but what its
    // wrong values would make throw here says nothing new.
    const hadSchemaErrors = broken.has(name)
    try {
      checkTask(name, t)
    } catch (error) {
      if (!hadSchemaErrors) throw error
    }
  }
  function checkTask(name: string, t: RawTask): void {
    const at = (key?: string) => taskLine(name, key)
    const fail = (message: string, key?: string) => {
      broken.add(name)
      problems.push({line: at(key), message: `tasks.${name}${key ? `.${key}` : ''}: ${message}`})
    }
    const repository = t.repository ?? raw.repository
    if (repository === undefined) fail('no repository: give "repository" here or at the top of the file')
    if ((t.every === undefined) === (t.cron === undefined)) fail('give exactly one of "every" (an interval such as 10min) or "cron" (such as "0 3 * * *")')
    for (const key of ['every', 'jitter', 'timeout'] as const) {
      const v = t[key]
      // parseDuration's "m" is a month (restic's word): "every: 10m" is almost surely a mistake.
      if (typeof v === 'string' && /\dm(?!in)/i.test(v)) fail(`"${v}": "m" means months; write "min" for minutes (or "30d" for a month)`, key)
    }
    let every: number | undefined
    if (t.every !== undefined) {
      every = durationMs(t.every)
      if (every < 1000) fail('"every" must be at least 1s', 'every')
    }
    if (t.cron !== undefined) {
      try {
        new Cron(t.cron, {paused: true}).stop()
      } catch (error) {
        fail(`"${t.cron}" is not a cron expression: ${(error as Error).message}`, 'cron')
      }
    }
    const hooks: Hooks = {pre: t.hooks?.pre, post: t.hooks?.post, failure: t.hooks?.failure, timeoutMs: durationMs(t.hooks?.timeout ?? '5min')}
    const healthCheck = t.health_check === undefined ? undefined : typeof t.health_check === 'string' ? {url: t.health_check, timeoutMs: 10_000} : {url: t.health_check.url, timeoutMs: durationMs(t.health_check.timeout ?? '10s')}
    const base: TaskBase = {
      name,
      kind: t.kind,
      repository: repository ?? '',
      keyfile: t.keyfile ?? raw.keyfile,
      schedule: {every, cron: t.cron},
      jitterMs: durationMs(t.jitter ?? 0),
      missed: t.missed ?? 'skip',
      timeoutMs: durationMs(t.timeout ?? 0),
      hooks,
      healthCheck,
      line: at(),
      lines: Object.fromEntries(Object.keys(t).map((k) => [k, at(k)])),
    }
    switch (t.kind) {
      case 'backup':
        tasks.push({...base, kind: 'backup', sources: list(t.source), tags: list(t.tags), excludes: list(t.excludes), snapshotName: t.name, options: stringValues(t.options)})
        break
      case 'check':
        tasks.push({...base, kind: 'check', fast: t.fast ?? false})
        break
      case 'restore-test':
        tasks.push({...base, kind: 'restore-test', sample: t.sample ?? 10})
        break
      case 'sync': {
        const given = (['to', 'from', 'with'] as const).filter((d) => t[d] !== undefined)
        if (given.length !== 1) fail('give exactly one of "to", "from" or "with": the other repository')
        const direction = given[0] ?? 'to'
        tasks.push({...base, kind: 'sync', direction, peer: t[direction] ?? '', peerKeyfile: t.peer_keyfile, peerOptions: stringValues(t.peer_options)})
        break
      }
      case 'prune':
        tasks.push({...base, kind: 'prune', policy: t.policy!})
        break
      case 'maintenance':
        tasks.push({...base, kind: 'maintenance', graceMs: t.grace === undefined ? undefined : durationMs(t.grace)})
        break
    }
  }
  const file: TaskFile = {
    path,
    stateDir: raw.state_dir,
    log: {maxBytes: sizeBytes(raw.log?.max_size ?? '10MiB'), keep: raw.log?.keep ?? 5},
    shutdownTimeoutMs: durationMs(raw.shutdown_timeout ?? '1min'),
    tasks,
  }
  if (problems.length > 0) {
    const error = new TaskFileError(path, dedupe(problems))
    error.partial = {...file, tasks: tasks.filter((t) => !broken.has(t.name))}
    throw error
  }
  return file
}

interface RawTask {
  kind: TaskKind
  repository?: string
  keyfile?: string
  every?: string | number
  cron?: string
  jitter?: string | number
  missed?: MissedPolicy
  timeout?: string | number
  hooks?: {pre?: HookCommand; post?: HookCommand; failure?: HookCommand; timeout?: string | number}
  health_check?: string | {url: string; timeout?: string | number}
  source?: string | string[]
  tags?: string | string[]
  excludes?: string | string[]
  name?: string
  options?: Record<string, unknown>
  fast?: boolean
  sample?: number
  to?: string
  from?: string
  with?: string
  peer_keyfile?: string
  peer_options?: Record<string, unknown>
  policy?: string
  grace?: string | number
}

interface RawFile {
  repository?: string
  keyfile?: string
  state_dir?: string
  shutdown_timeout?: string | number
  log?: {max_size?: string | number; keep?: number}
  tasks: Record<string, RawTask>
}

/** A duration: a string such as 10s or 1h30m (parseDuration's units), or a number of seconds. */
export function durationMs(value: string | number): number {
  return typeof value === 'number' ? value * 1000 : parseDuration(value)
}

const SIZE_UNITS: Record<string, number> = {b: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2, g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3}

function sizeBytes(value: string | number): number {
  if (typeof value === 'number') return value
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())!
  return Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] || 'b').toLowerCase()] ?? 1))
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value
}

function stringValues(options: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(options ?? {}).map(([k, v]) => [k, String(v)]))
}

/**
 * ajv reports an anyOf's failure and each branch's: the branches say the same thing less
 * clearly. An if/then's own "must match then schema" adds nothing to the errors under it.
 */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath))
  // A bad task name: ajv adds the name's own pattern error to propertyNames' one.
  return errors.filter((e) => e.keyword !== 'if' && !(e.propertyName !== undefined && e.keyword !== 'propertyNames') && (e.keyword === 'anyOf' || !anyOfPaths.has(e.instancePath)))
}

function describe(error: ErrorObject): string {
  const where = error.instancePath.split('/').slice(1).map(unescapePointer)
  const name = where.length > 0 ? where.join('.') : 'the file'
  const p = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return `${name}: "${String(p.missingProperty)}" is missing`
    case 'additionalProperties':
      return `${name}: unknown key "${String(p.additionalProperty)}"`
    case 'enum':
      return `${name}: must be one of ${(p.allowedValues as unknown[]).map((v) => String(v)).join(', ')}`
    case 'const':
      return `${name}: must be ${JSON.stringify(p.allowedValue)}`
    case 'propertyNames':
      return `${name}: "${String(badName(error))}" is not a valid task name: use letters, digits, "_", "." and "-"`
    case 'anyOf':
      return `${name}: ${anyOfHint(where.at(-1) ?? '')}`
    case 'pattern':
      return `${name}: ${where.at(-1) === 'url' ? 'must be an http:// or https:// URL' : `"${String(error.data)}" is not valid here`}`
    default:
      return `${name}: ${error.message ?? 'is not valid'}`
  }
}

function anyOfHint(key: string): string {
  if (['every', 'jitter', 'timeout', 'grace', 'shutdown_timeout'].includes(key)) return 'must be a duration such as 30s, 10min, 1h or 7d (or a number of seconds)'
  if (['pre', 'post', 'failure'].includes(key)) return 'must be a command line, or a list: the program and its arguments'
  if (key === 'health_check') return 'must be an http:// or https:// URL, or {url, timeout}'
  if (key === 'max_size') return 'must be a size such as 10MiB'
  return 'must be a string or a list of strings'
}

/** The key a propertyNames error is about (ajv puts it in params, its inner errors in propertyName). */
function badName(error: ErrorObject): string | undefined {
  return (error.params as {propertyName?: string}).propertyName ?? error.propertyName
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~')
}

/** The line of the value an error is about (or of its key, for a missing or unknown key). */
function lineOf(doc: Document, error: ErrorObject, lineAt: (offset: number) => number): number {
  const path = error.instancePath.split('/').slice(1).map(unescapePointer)
  if (error.keyword === 'additionalProperties') return nodeLine(doc, [...path, String((error.params as {additionalProperty: string}).additionalProperty)], lineAt, true)
  const bad = badName(error)
  if (bad !== undefined) return nodeLine(doc, [...path, bad], lineAt, true)
  return nodeLine(doc, path, lineAt)
}

/** The line of the node at `path` (of its key when `key`), or of the closest parent that exists. */
function nodeLine(doc: Document, path: string[], lineAt: (offset: number) => number, key = false): number {
  let node: unknown = doc.contents
  let line = node && (node as Node).range ? lineAt((node as Node).range![0]) : 1
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === step)
      if (!pair) break
      const keyNode = pair.key as Node | undefined
      if (keyNode?.range) line = lineAt(keyNode.range[0])
      node = pair.value
      if (!key && node && (node as Node).range && !isMap(node)) line = lineAt((node as Node).range![0])
    } else if (isSeq(node)) {
      const item = node.items[Number(step)] as Node | undefined
      if (!item) break
      if (item.range) line = lineAt(item.range[0])
      node = item
    } else break
  }
  return line
}

function dedupe(problems: TaskFileProblem[]): TaskFileProblem[] {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const k = `${p.line}:${p.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

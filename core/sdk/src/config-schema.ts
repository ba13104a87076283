/**
 * A tiny builder for connector configuration schemas. A connector's configuration is a flat
 * object of `key=value` options, described by a JSON Schema (draft-07) that plakar checks with
 * ajv before any connector code runs: values arrive as strings and are coerced to the declared
 * type, defaults are filled in, unknown keys are refused, and every problem is reported at once.
 *
 * ```ts
 * export const schema = configSchema(
 *   {
 *     url: option.string({description: 'base URL of the API', format: 'uri'}),
 *     token: option.secret({description: 'API token'}),
 *     page_size: option.integer({description: 'items per request', minimum: 1, default: 100}),
 *   },
 *   {required: ['url']},
 * )
 * export type Config = ConfigOf<typeof schema>   // {url: string; page_size: number; token?: string}
 * ```
 *
 * Secrets are marked `writeOnly: true` (the JSON Schema way of saying "never shown back"):
 * plakar masks them in `store show`, `--json` output and logs. `option.secret()` does it.
 * The object the builder returns is plain JSON: write it to the file your package.json
 * declaration points to (the templates' build does), or inline it in the declaration.
 */

declare const VALUE: unique symbol

/** The JSON Schema of one option. `T` is the type of its value after validation (type-level only). */
export interface OptionSchema<T = unknown> {
  type: 'string' | 'boolean' | 'integer' | 'number'
  description?: string
  default?: T
  enum?: readonly T[]
  format?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  /** A secret: masked wherever plakar shows a configuration. */
  writeOnly?: boolean
  examples?: readonly T[]
  /** Never present at run time: carries T for {@link ConfigOf}. */
  readonly [VALUE]?: T
}

interface Common<T> {
  description?: string
  examples?: readonly T[]
}

export interface StringOptions extends Common<string> {
  /** ajv-formats names: "uri", "hostname", "email", "ipv4", "date-time", … */
  format?: string
  pattern?: string
  minLength?: number
  maxLength?: number
}

export interface NumberOptions extends Common<number> {
  minimum?: number
  maximum?: number
}

type WithDefault<T, D> = OptionSchema<T> & (D extends undefined ? unknown : {default: T})

function clean<T extends object>(schema: T): T {
  return Object.fromEntries(Object.entries(schema).filter(([, v]) => v !== undefined)) as T
}

export const option = {
  string<D extends string | undefined = undefined>(options: StringOptions & {default?: D} = {}): WithDefault<string, D> {
    return clean({type: 'string', ...options}) as WithDefault<string, D>
  },
  /** A secret string (password, token, key): `writeOnly: true`. A secret has no default. */
  secret(options: Omit<StringOptions, 'examples'> = {}): OptionSchema<string> {
    return clean({type: 'string', ...options, writeOnly: true}) as OptionSchema<string>
  },
  boolean<D extends boolean | undefined = undefined>(options: Common<boolean> & {default?: D} = {}): WithDefault<boolean, D> {
    return clean({type: 'boolean', ...options}) as WithDefault<boolean, D>
  },
  integer<D extends number | undefined = undefined>(options: NumberOptions & {default?: D} = {}): WithDefault<number, D> {
    return clean({type: 'integer', ...options}) as WithDefault<number, D>
  },
  number<D extends number | undefined = undefined>(options: NumberOptions & {default?: D} = {}): WithDefault<number, D> {
    return clean({type: 'number', ...options}) as WithDefault<number, D>
  },
  /** One of fixed strings. */
  enum<const V extends string, D extends V | undefined = undefined>(values: readonly V[], options: Common<V> & {default?: D} = {}): WithDefault<V, D> {
    return clean({type: 'string', enum: [...values], ...options}) as WithDefault<V, D>
  },
}

/** A connector's configuration schema: a flat object of options, no unknown keys. */
export interface ConfigSchema<P extends Record<string, OptionSchema> = Record<string, OptionSchema>, R extends keyof P = keyof P> {
  $schema: 'http://json-schema.org/draft-07/schema#'
  title?: string
  description?: string
  type: 'object'
  properties: P
  required?: R[]
  additionalProperties: false
}

export function configSchema<P extends Record<string, OptionSchema>, const R extends keyof P & string = never>(
  properties: P,
  options: {required?: readonly R[]; title?: string; description?: string} = {},
): ConfigSchema<P, R> {
  for (const key of options.required ?? []) {
    if (!(key in properties)) throw new Error(`configSchema: required option "${key}" is not declared`)
  }
  for (const [key, value] of Object.entries(properties)) {
    if (!/^[a-z][a-z0-9_]*$/.test(key)) throw new Error(`configSchema: option name "${key}" must be lowercase snake_case`)
    if (value.writeOnly && value.default !== undefined) throw new Error(`configSchema: secret option "${key}" cannot have a default`)
  }
  return clean({
    $schema: 'http://json-schema.org/draft-07/schema#' as const,
    title: options.title,
    description: options.description,
    type: 'object' as const,
    properties,
    required: options.required && options.required.length > 0 ? [...options.required] : undefined,
    additionalProperties: false as const,
  })
}

type ValueOf<O> = O extends OptionSchema<infer T> ? T : never
type Defaulted<P> = {[K in keyof P]: P[K] extends {default: unknown} ? K : never}[keyof P]
type Simplify<T> = {[K in keyof T]: T[K]} & {}

/**
 * The configuration object a connector receives for a schema: required options and options
 * with a default are always present, the others are optional.
 */
export type ConfigOf<S> =
  S extends ConfigSchema<infer P, infer R>
    ? Simplify<{[K in R | Defaulted<P>]: ValueOf<P[K]>} & {[K in Exclude<keyof P, R | Defaulted<P>>]?: ValueOf<P[K]>}>
    : never

/** The names of the options a schema marks secret (`writeOnly: true`). */
export function secretOptions(schema: {properties?: Record<string, {writeOnly?: boolean}>}): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([, property]) => property?.writeOnly === true)
    .map(([name]) => name)
}

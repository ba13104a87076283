import {createHash} from 'node:crypto'
import {createRequire} from 'node:module'
import type {Ajv} from 'ajv'
import {PlakarError, UsageError} from '@plakar/sdk'

/**
 * Connector configuration is checked with ajv against the plugin's JSON Schema before any
 * connector code runs. Values arrive as strings (key=value on the command line), so types are
 * coerced; every problem is reported at once, in one line.
 *
 * Compiling schemas with ajv costs about 0.15 s per command (ajv first compiles the JSON Schema
 * meta-schema to check each schema), paid by every command that resolves a location. So the
 * build compiles the first-party plugins' schemas and the meta-schema to standalone validators
 * (scripts/precompile-schemas.mjs, into precompiled-schemas.cjs); a schema is looked up there by
 * the hash of its JSON text. Any other schema (an installed plugin's) is checked against the
 * precompiled meta-schema when its plugin registers, and compiled by ajv when first used.
 */
export type ConfigValidator = (config: Record<string, unknown>, what: string) => Record<string, unknown>

/** The options of every validator, precompiled or not: the build script uses these too. */
export const AJV_OPTIONS = {allErrors: true, coerceTypes: true, useDefaults: true, strict: false} as const

type Validate = ((data: unknown) => boolean) & {errors?: AjvError[] | null}
interface AjvError {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/** The key of a schema among the precompiled validators: the SHA-256 of its JSON text. */
export function schemaKey(schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex')
}

/** The name of the precompiled draft-07 meta-schema validator in precompiled-schemas.cjs. */
export const META_SCHEMA_EXPORT = 'meta'
const DRAFT_07 = 'http://json-schema.org/draft-07/schema'

let precompiled: Record<string, Validate> | null | undefined

function precompiledValidators(): Record<string, Validate> | null {
  if (precompiled === undefined) {
    try {
      precompiled = createRequire(import.meta.url)('./precompiled-schemas.cjs') as Record<string, Validate>
    } catch {
      // Not built (sources run directly, as in unit tests): ajv compiles everything.
      precompiled = null
    }
  }
  return precompiled
}

/** Whether the build precompiled a validator for this very schema (the tests ask). */
export function hasPrecompiledValidator(schema: unknown): boolean {
  return precompiledValidators()?.[schemaKey(schema)] !== undefined
}

let ajv: Ajv | undefined

function instance(): Ajv {
  if (!ajv) {
    const require = createRequire(import.meta.url)
    const {Ajv: AjvClass} = require('ajv') as typeof import('ajv')
    const a = new AjvClass({...AJV_OPTIONS})
    // ajv-formats is CommonJS: its callable is the module's default export.
    ;(require('ajv-formats') as {default: (a: Ajv) => void}).default(a)
    ajv = a
  }
  return ajv
}

/**
 * A schema the precompiled meta-schema can vouch for: draft-07 and nothing ajv checks only
 * while compiling (format names, references). Anything else is compiled at once, as before.
 */
function checkableWithoutAjv(schema: object): boolean {
  const $schema = (schema as {$schema?: unknown}).$schema
  if ($schema !== undefined && String($schema).replace(/#$/, '') !== DRAFT_07) return false
  return !/"(format|\$ref|\$id|\$schema|\$dynamicRef|\$recursiveRef)":/.test(JSON.stringify({...schema, $schema: undefined}))
}

export function compileConfigSchema(schema: unknown): ConfigValidator {
  if (typeof schema !== 'object' || schema === null) throw new Error('the schema is not a JSON object')
  const validators = precompiledValidators()
  let validate: Validate | undefined = validators?.[schemaKey(schema)]
  if (!validate) {
    const meta = validators?.[META_SCHEMA_EXPORT]
    if (meta && checkableWithoutAjv(schema)) {
      // What ajv would refuse when compiling, refused now, in ajv's words.
      if (!meta(schema)) throw new Error(`schema is invalid: ${(meta.errors ?? []).map((e) => `data${e.instancePath} ${e.message}`).join(', ')}`)
    } else validate = instance().compile(schema) as Validate
  }
  return (config, what) => {
    if (!validate) {
      try {
        validate = instance().compile(schema) as Validate
      } catch (error) {
        throw new PlakarError(`the configuration schema of ${what} is invalid: ${(error as Error).message}`)
      }
    }
    const copy = {...config}
    if (validate(copy)) return copy
    const problems = (validate.errors ?? []).map(describeError)
    throw new UsageError(`invalid configuration for ${what}: ${[...new Set(problems)].join('; ')}`)
  }
}

function describeError(error: AjvError): string {
  const key = error.instancePath.replace(/^\//, '').replaceAll('/', '.')
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown option "${String(error.params.additionalProperty)}"`
    case 'required':
      return `missing option "${String(error.params.missingProperty)}"`
    case 'enum':
      return `option "${key}" must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`
    default:
      return key ? `option "${key}" ${error.message}` : (error.message ?? 'invalid')
  }
}

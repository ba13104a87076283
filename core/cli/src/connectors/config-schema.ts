import {Ajv} from 'ajv'
import addFormats from 'ajv-formats'
import {UsageError} from '@plakar/sdk'

/**
 * Connector configuration is checked with ajv against the plugin's JSON Schema before any
 * connector code runs. Values arrive as strings (key=value on the command line), so types are
 * coerced; every problem is reported at once, in one line.
 */
export type ConfigValidator = (config: Record<string, unknown>, what: string) => Record<string, unknown>

type AjvLike = {compile(schema: unknown): ((data: unknown) => boolean) & {errors?: AjvError[] | null}}
interface AjvError {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

let ajv: AjvLike | undefined

function instance(): AjvLike {
  if (!ajv) {
    const a = new Ajv({allErrors: true, coerceTypes: true, useDefaults: true, strict: false})
    // ajv-formats is CommonJS: under NodeNext its callable is the default export's default.
    ;(addFormats as unknown as {default: (a: Ajv) => void}).default(a)
    ajv = a as unknown as AjvLike
  }
  return ajv
}

export function compileConfigSchema(schema: unknown): ConfigValidator {
  if (typeof schema !== 'object' || schema === null) throw new Error('the schema is not a JSON object')
  const validate = instance().compile(schema)
  return (config, what) => {
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

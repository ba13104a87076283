import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import * as built from '../../dist/connectors/config-schema.js'
import * as compiled from '../../src/connectors/config-schema.js'

/**
 * The build compiles the first-party plugins' schemas and the draft-07 meta-schema to standalone
 * validators (scripts/precompile-schemas.mjs). The built module (dist) uses them; the sources
 * run here without them, so ajv compiles: both must say the same about every configuration.
 */
const root = join(import.meta.dirname, '../../../..')
const firstParty = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).oclif.plugins as string[]).filter((n) => n.startsWith('@plakar/plugin-'))
const schemas = firstParty.flatMap((name) => {
  const dir = join(root, 'plugins', name.replace('@plakar/plugin-', ''))
  const pjson = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  return (pjson.plakar.connectors as {kind: string; schemes: string[]; schema: string}[]).map((c) => ({
    what: `${name} ${c.kind} ${c.schemes[0]}`,
    schema: JSON.parse(readFileSync(join(dir, c.schema), 'utf8')) as {properties: Record<string, {type?: string; enum?: string[]}>; required?: string[]},
  }))
})

function outcome(validate: (config: Record<string, unknown>, what: string) => Record<string, unknown>, config: Record<string, unknown>): unknown {
  try {
    return {ok: validate(config, 'x')}
  } catch (error) {
    return {error: (error as Error).message}
  }
}

/** Configurations that pass and fail: every option given as the command line gives it. */
function samples(schema: (typeof schemas)[number]['schema']): Record<string, unknown>[] {
  const good = (type?: string, values?: string[]) => (values ? values[0] : type === 'boolean' ? 'false' : type === 'integer' || type === 'number' ? '7' : 'a-value')
  const bad = (type?: string, values?: string[]) => (values ? 'not-one-of-them' : type === 'boolean' ? 'maybe' : type === 'integer' || type === 'number' ? 'many' : '')
  const entries = Object.entries(schema.properties)
  return [
    {},
    Object.fromEntries(entries.map(([k, p]) => [k, good(p.type, p.enum)])),
    Object.fromEntries(entries.map(([k, p]) => [k, bad(p.type, p.enum)])),
    {...Object.fromEntries((schema.required ?? []).map((k) => [k, good(schema.properties[k].type, schema.properties[k].enum)])), bogus: '1'},
  ]
}

describe('precompiled configuration schemas', () => {
  it('finds schemas of the first-party plugins', () => {
    expect(schemas.length).toBeGreaterThanOrEqual(10)
  })

  for (const {what, schema} of schemas) {
    it(`${what}: precompiled, and judges configurations as ajv compiling the schema does`, () => {
      expect(built.hasPrecompiledValidator(schema)).toBe(true)
      expect(compiled.hasPrecompiledValidator(schema)).toBe(false)
      const fast = built.compileConfigSchema(schema)
      const slow = compiled.compileConfigSchema(schema)
      for (const config of samples(schema)) expect(outcome(fast, config), JSON.stringify(config)).toEqual(outcome(slow, config))
    })
  }

  it('a schema changed by one character is not taken for the precompiled one', () => {
    const {schema} = schemas[0]
    const changed = {...schema, properties: {...schema.properties, extra_option: {type: 'integer'}}}
    expect(built.hasPrecompiledValidator(changed)).toBe(false)
    expect(outcome(built.compileConfigSchema(changed), {extra_option: 'x'})).toEqual(outcome(compiled.compileConfigSchema(changed), {extra_option: 'x'}))
  })

  it('an invalid schema is refused when registered, as ajv refuses it, without compiling', () => {
    const invalid = {type: 'object', properties: {n: {type: 'nonsense'}, m: {minimum: 'three'}}}
    const refusal = (compile: typeof built.compileConfigSchema) => {
      try {
        compile(invalid)
      } catch (error) {
        return (error as Error).message
      }
      return 'accepted'
    }
    expect(refusal(built.compileConfigSchema)).toBe(refusal(compiled.compileConfigSchema))
    expect(refusal(built.compileConfigSchema)).toMatch(/^schema is invalid: data\/properties\/n\/type must be equal to one of the allowed values/)
  })

  it('an installed plugin schema with formats is compiled by ajv and checks them', () => {
    const withFormat = {type: 'object', additionalProperties: false, properties: {endpoint: {type: 'string', format: 'uri'}}}
    expect(outcome(built.compileConfigSchema(withFormat), {endpoint: 'not a uri'})).toEqual({error: 'invalid configuration for x: option "endpoint" must match format "uri"'})
  })
})

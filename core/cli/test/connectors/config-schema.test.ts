import {describe, expect, it} from 'vitest'
import {compileConfigSchema} from '../../src/connectors/config-schema.js'
import {ExitCode, UsageError} from '@plakar/sdk'

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['access_key', 'secret_access_key'],
  properties: {
    access_key: {type: 'string'},
    secret_access_key: {type: 'string', writeOnly: true},
    region: {type: 'string', default: 'us-east-1'},
    use_tls: {type: 'boolean', default: true},
    port: {type: 'integer', minimum: 1, maximum: 65535},
    storage_class: {enum: ['STANDARD', 'GLACIER']},
    endpoint: {type: 'string', format: 'uri'},
  },
}

function problemsOf(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).plakarExitCode).toBe(ExitCode.USAGE)
    return (error as Error).message
  }
  throw new Error('expected the configuration to be refused')
}

describe('connector configuration validation', () => {
  const validate = compileConfigSchema(schema)

  it('accepts a valid configuration, coercing command-line strings and applying defaults', () => {
    const config = validate({access_key: 'AK', secret_access_key: 'SK', use_tls: 'false', port: '9000'}, 's3 storage')
    expect(config).toEqual({access_key: 'AK', secret_access_key: 'SK', use_tls: false, port: 9000, region: 'us-east-1'})
  })

  it('does not modify its input', () => {
    const input = {access_key: 'AK', secret_access_key: 'SK'}
    validate(input, 'x')
    expect(input).toEqual({access_key: 'AK', secret_access_key: 'SK'})
  })

  it('reports every problem at once, on one line, in words a user understands', () => {
    const message = problemsOf(() =>
      validate({access_key: 'AK', bogus: '1', port: '70000', use_tls: 'maybe', storage_class: 'COLD', endpoint: 'not a uri'}, 's3 storage'),
    )
    expect(message).not.toContain('\n')
    expect(message).toMatch(/^invalid configuration for s3 storage: /)
    expect(message).toContain('unknown option "bogus"')
    expect(message).toContain('missing option "secret_access_key"')
    expect(message).toMatch(/option "port" must be <= 65535/)
    expect(message).toMatch(/option "use_tls" must be boolean/)
    expect(message).toContain('option "storage_class" must be one of STANDARD, GLACIER')
    expect(message).toMatch(/option "endpoint" must match format "uri"/)
  })

  it('never repeats a problem', () => {
    // Both branches of allOf report the same missing option.
    const twice = compileConfigSchema({type: 'object', allOf: [{required: ['host']}, {required: ['host']}], required: ['user']})
    const parts = problemsOf(() => twice({}, 'x')).replace(/^[^:]*: /, '').split('; ')
    expect(parts.sort()).toEqual(['missing option "host"', 'missing option "user"'])
  })

  it('a schema that is not an object or not a valid JSON Schema is refused at compile time', () => {
    expect(() => compileConfigSchema(null)).toThrow()
    expect(() => compileConfigSchema('string')).toThrow()
    expect(() => compileConfigSchema({type: 'nonsense'})).toThrow()
    expect(() => compileConfigSchema({properties: {a: {minimum: 'five'}}})).toThrow()
  })
})

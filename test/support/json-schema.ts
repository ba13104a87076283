/**
 * The JSON Schemas of docs/json (see docs/json.md), loaded once into ajv: the vocabulary test
 * validates every command's --json output with them, and tests that see a command's output
 * where the vocabulary test cannot run it (a cold storage for `thaw status`) check it too.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv2020} from 'ajv/dist/2020.js'
import {ROOT} from './cli.js'

export const SCHEMA_DIR = join(ROOT, 'docs', 'json')

/** An ajv with every schema of docs/json added under its file name (`check.schema.json`). */
export function schemaValidator(options: {allErrors?: boolean} = {}): Ajv2020 {
  const ajv = new Ajv2020({allErrors: options.allErrors ?? true, strict: true, allowUnionTypes: true})
  for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'))) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as object, file)
  return ajv
}

let shared: Ajv2020 | undefined

/** The problems of `line` against the schema of `command` (`thaw status`), or '' when it matches. */
export function schemaErrors(command: string, line: unknown): string {
  shared ??= schemaValidator()
  const name = `${command.replaceAll(' ', '-')}.schema.json`
  const validate = shared.getSchema(name)
  if (!validate) throw new Error(`no schema docs/json/${name}`)
  return validate(line) ? '' : shared.errorsText(validate.errors)
}

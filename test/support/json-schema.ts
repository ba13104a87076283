/**
 * The JSON Schemas of docs/json (see docs/json.md), for tests that see a command's --json output
 * where the vocabulary test cannot run it (a cold storage for `thaw status`).
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv2020} from 'ajv/dist/2020.js'
import {ROOT} from './cli.js'

let ajv: Ajv2020 | undefined

/** The problems of `line` against the schema of `command` (`thaw status`), or '' when it matches. */
export function schemaErrors(command: string, line: unknown): string {
  if (!ajv) {
    ajv = new Ajv2020({allErrors: true, strict: true, allowUnionTypes: true})
    const dir = join(ROOT, 'docs', 'json')
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')) as object, file)
  }
  const validate = ajv.getSchema(`${command.replaceAll(' ', '-')}.schema.json`)
  if (!validate) throw new Error(`no schema docs/json/${command.replaceAll(' ', '-')}.schema.json`)
  return validate(line) ? '' : ajv.errorsText(validate.errors)
}

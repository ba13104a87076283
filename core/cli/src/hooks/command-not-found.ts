import type {Hook} from '@oclif/core'
import {describeError} from '../cli/error-message.js'
import {unknownCommand} from '../cli/suggest.js'

/**
 * An unknown command: one usage line with suggestions ("did you mean backup?") and exit 2,
 * as JSON under --json, instead of oclif's "command bakup not found".
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const typed = options.id.replaceAll(':', ' ')
  const error = unknownCommand(typed, options.config)
  const json = (options.argv ?? []).includes('--json') || process.argv.includes('--json')
  process.stderr.write(json ? `${JSON.stringify({error: describeError(error), exitCode: 2})}\n` : `plakar: ${describeError(error)}\n`)
  process.exitCode = 2
}

export default hook

import {configSchema, option, type ConfigOf} from '@plakar/sdk'

/**
 * The options of this importer, given as `key=value` pairs (`plakar backup -o key=value …`, or
 * saved with `plakar source add NAME LOCATION key=value…`). plakar checks them against this
 * schema before it runs any code of this plugin: values are coerced to the declared types,
 * defaults filled in, unknown keys refused. Mark secrets with `option.secret()`
 * (`writeOnly: true`): plakar masks them wherever it shows a configuration.
 */
export const schema = configSchema(
  {
    exclude_hidden: option.boolean({description: 'leave out files and directories whose name starts with a dot', default: false}),
    // token: option.secret({description: 'API token of the source'}),
  },
  {title: '{{scheme}} importer'},
)

export type Config = ConfigOf<typeof schema>

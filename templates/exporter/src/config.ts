import {configSchema, option, type ConfigOf} from '@plakar/sdk'

/**
 * The options of this exporter, given as `key=value` pairs (`plakar restore --to LOCATION
 * -o key=value`, or saved with `plakar destination add NAME LOCATION key=value…`). plakar checks
 * them against this schema before it runs any code of this plugin. Mark secrets with
 * `option.secret()` (`writeOnly: true`): plakar masks them wherever it shows a configuration.
 */
export const schema = configSchema(
  {
    fsync: option.boolean({description: 'flush each file to disk before it is renamed into place (slower; survives a power cut)', default: false}),
    // token: option.secret({description: 'API token of the target'}),
  },
  {title: '{{scheme}} exporter'},
)

export type Config = ConfigOf<typeof schema>

import {configSchema, option, type ConfigOf} from '@plakar/sdk'

/**
 * The options of this storage, given as `key=value` pairs (`plakar at LOCATION -o key=value …`,
 * or saved with `plakar store add NAME LOCATION key=value…`). plakar checks them against this
 * schema before it runs any code of this plugin. Mark secrets with `option.secret()`
 * (`writeOnly: true`): plakar masks them wherever it shows a configuration.
 */
export const schema = configSchema(
  {
    fsync: option.boolean({description: 'flush every object to disk before it becomes visible (turn off only for throwaway repositories)', default: true}),
    // password: option.secret({description: 'password of the storage service'}),
  },
  {title: '{{scheme}} storage'},
)

export type Config = ConfigOf<typeof schema>

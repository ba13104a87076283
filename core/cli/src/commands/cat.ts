import {Args} from '@oclif/core'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {filterSnapshots, parseTarget, resolveTarget} from '@plakar/engine/engine/selection.js'
import {pipeline} from 'node:stream/promises'
import {PlakarCommand} from '../cli/base-command.js'
import {UsageError} from '@plakar/sdk'

export default class Cat extends PlakarCommand {
  static override summary = 'print a file of a snapshot'
  static override description = 'Writes the content of one or more files of snapshots to standard output.'
  static override strict = false
  static override examples = ['plakar cat 3f2a:/etc/hosts', 'plakar cat 3f2a:notes.txt > notes.txt', 'plakar cat --host web1 latest:/etc/hosts']
  static override args = {file: Args.string({description: 'SNAPSHOT:PATH of a file', required: true})}
  static override flags = {...selectionFlags}

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Cat)
    const filter = filterFromFlags(flags)
    for (const spec of argv as string[]) {
      if (!parseTarget(spec).path) throw new UsageError(`${spec}: name a file as SNAPSHOT:PATH`)
    }
    const repo = await this.openRepository()
    const candidates = await filterSnapshots(repo, filter)
    for (const spec of argv as string[]) {
      const {snapshot, path: resolved} = await resolveTarget(repo, spec, filter, candidates)
      const entry = await snapshot.requireEntry(resolved)
      if (entry.info.type !== 'file') throw new UsageError(`${resolved} is a ${entry.info.type}, not a file`)
      if (entry.error) throw new UsageError(`${resolved} could not be backed up: ${entry.error}`)
      await pipeline(await snapshot.open(entry), process.stdout, {end: false})
    }
  }
}

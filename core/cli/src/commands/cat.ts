import {Args} from '@oclif/core'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {filterSnapshots, parseTarget, resolveTarget} from '@plakar/engine/engine/selection.js'
import {pipeline} from 'node:stream/promises'
import {PlakarCommand} from '../cli/base-command.js'
import {UsageError} from '@plakar/sdk'
import {startThaw, thawFlags} from '../cli/thaw.js'
import {collectSnapshotPackfiles} from '@plakar/engine/engine/thaw.js'
import type {Entry} from '@plakar/engine/tree/entry.js'
import type {Snapshot} from '@plakar/engine/engine/snapshot.js'

export default class Cat extends PlakarCommand {
  static override summary = 'print a file of a snapshot'
  static override description = 'Writes the content of one or more files of snapshots to standard output.'
  static override strict = false
  static override examples = ['plakar cat 3f2a:/etc/hosts', 'plakar cat 3f2a:notes.txt > notes.txt', 'plakar cat --host web1 latest:/etc/hosts']
  static override args = {file: Args.string({description: 'SNAPSHOT:PATH of a file', required: true})}
  static override flags = {...selectionFlags, ...thawFlags}

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Cat)
    const filter = filterFromFlags(flags)
    for (const spec of argv as string[]) {
      if (!parseTarget(spec).path) throw new UsageError(`${spec}: name a file as SNAPSHOT:PATH`)
    }
    const repo = await this.openRepository()
    const candidates = await filterSnapshots(repo, filter)
    const files: {snapshot: Snapshot; path: string; entry: Entry}[] = []
    for (const spec of argv as string[]) {
      const {snapshot, path: resolved} = await resolveTarget(repo, spec, filter, candidates)
      const entry = await snapshot.requireEntry(resolved)
      if (entry.info.type !== 'file') throw new UsageError(`${resolved} is a ${entry.info.type}, not a file`)
      if (entry.error) throw new UsageError(`${resolved} could not be backed up: ${entry.error}`)
      files.push({snapshot, path: resolved, entry})
    }
    // A cold storage: the files' data is thawed; each file is written once its packfiles are readable.
    const thaw = await startThaw({repo, logger: this.logger, json: this.settings.json, quiet: this.settings.quiet, signal: this.abort.signal}, flags, async (c) => {
      for (const f of files) await collectSnapshotPackfiles(f.snapshot, f.path, c)
    })
    for (const f of files) await pipeline(await f.snapshot.open(f.entry), process.stdout, {end: false})
    await thaw?.finished()
  }
}

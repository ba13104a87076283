import {Args} from '@oclif/core'
import {pipeline} from 'node:stream/promises'
import {PlakarCommand} from '../cli/base-command.js'
import {loadSnapshot, parseSnapshotPath} from '../engine/snapshot.js'
import {UsageError} from '../errors.js'

export default class Cat extends PlakarCommand {
  static override summary = 'print a file of a snapshot'
  static override description = 'Writes the content of one or more files of snapshots to standard output.'
  static override strict = false
  static override examples = ['plakar cat 3f2a:/etc/hosts', 'plakar cat 3f2a:notes.txt > notes.txt']
  static override args = {file: Args.string({description: 'ID:PATH of a file', required: true})}

  async run(): Promise<void> {
    const {argv} = await this.parse(Cat)
    const repo = await this.openRepository()
    for (const spec of argv as string[]) {
      const {id, path} = parseSnapshotPath(spec)
      if (path === undefined) throw new UsageError(`${spec}: name a file as ID:PATH`)
      const snapshot = await loadSnapshot(repo, id)
      const resolved = snapshot.resolve(path)
      const entry = await snapshot.requireEntry(resolved)
      if (entry.info.type !== 'file') throw new UsageError(`${resolved} is a ${entry.info.type}, not a file`)
      if (entry.error) throw new UsageError(`${resolved} could not be backed up: ${entry.error}`)
      await pipeline(await snapshot.open(entry), process.stdout, {end: false})
    }
  }
}

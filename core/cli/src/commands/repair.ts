import {Flags} from '@oclif/core'
import {hostname, userInfo} from 'node:os'
import {PlakarCommand} from '../cli/base-command.js'
import {parseOptions} from '../connectors/resolver.js'
import {repair} from '@plakar/engine/engine/repair.js'
import {IntegrityError} from '@plakar/sdk'
import type {SnapshotHeader} from '@plakar/engine/format/snapshot.js'
import {describePackfiles} from '@plakar/engine/repository/lost-packfiles.js'

export default class Repair extends PlakarCommand {
  static override summary = 'make snapshots whole again after data was lost, from their sources'
  static override description =
    'Finds packfiles the index lists but the storage lost, records them as gone, reads every damaged file of every snapshot again from its source and stores the missing data when the source still has the same content. Names what cannot be saved (exit 65).'
  static override examples = ['plakar repair', 'plakar repair --dry-run', 'plakar at /var/backups repair --from /srv/data']
  static override flags = {
    from: Flags.string({description: 'read damaged files from this source instead of the one each snapshot recorded'}),
    option: Flags.string({char: 'o', description: 'importer option key=value for --from (repeatable)', multiple: true, multipleNonGreedy: true}),
    'dry-run': Flags.boolean({description: 'read the sources and report what would be repaired, store nothing'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Repair)
    const repo = await this.openRepository()
    const options = parseOptions(flags.option ?? [])
    const here = hostname()
    const importerFor = async (header: SnapshotHeader) => {
      if (flags.from !== undefined) return this.resolver.importer(flags.from, options)
      // A snapshot records its importer's type, the host it ran on and its root: only a local
      // filesystem source on this very host can be found again without being told where.
      if (header.importer.type === 'fs' && header.importer.origin === here) return this.resolver.importer(header.importer.root)
      return `its source (${header.importer.type} on ${header.importer.origin}, ${header.importer.root}) is not reachable from here: give it with --from`
    }
    const display = this.progress()
    const result = await repair(repo, {
      importerFor,
      dryRun: flags['dry-run'],
      user: userInfo().username,
      signal: this.abort.signal,
      onProgress: (p) => display.update({label: p.phase === 'scan' ? 'repair: walking snapshots' : 'repair: reading sources', files: p.files, bytes: 0}),
    })
    display.stop()
    if (result.lostPackfiles.length > 0 && !this.settings.json) {
      this.logger.warn(`${describePackfiles(result.lostPackfiles)} listed by the index ${result.lostPackfiles.length === 1 ? 'was' : 'were'} missing from the storage`)
    }
    if (this.settings.json) {
      this.printJson(result)
    } else {
      for (const u of result.unrepairable) this.logger.warn(`snapshot ${u.snapshot.slice(0, 8)}: ${u.path ? `${u.path}: ` : ''}cannot be repaired: ${u.reason}`)
      const verb = result.dryRun ? 'would repair' : 'repaired'
      this.say(`${verb} ${result.repaired} of ${result.damaged} damaged files in ${result.snapshots} snapshots; ${result.unrepairable.length} cannot be repaired`)
    }
    if (result.unrepairable.length > 0) {
      throw new IntegrityError(`${result.unrepairable.length} damaged files or snapshots cannot be repaired: they are named above`)
    }
  }
}

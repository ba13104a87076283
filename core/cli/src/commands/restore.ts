import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {count, formatBytes} from '../cli/output.js'
import {parseOptions} from '../connectors/resolver.js'
import {restore} from '@plakar/engine/engine/restore.js'
import {startThaw, thawFlags} from '../cli/thaw.js'
import {collectSnapshotPackfiles} from '@plakar/engine/engine/thaw.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {resolveTarget} from '@plakar/engine/engine/selection.js'

export default class Restore extends PlakarCommand {
  static override summary = 'restore a snapshot, or a path of one'
  static override description =
    'Restores the content of the snapshot root (or of SNAPSHOT:PATH) into the target. Without a snapshot, the latest one the filters select is used.'
  static override examples = [
    'plakar restore --to /tmp/restored 3f2a',
    'plakar restore --to ./etc-copy 3f2a:/etc',
    'plakar restore --to s3://minio:9000/bucket 3f2a',
    'plakar restore --to /tmp/web1 --host web1 latest:/var/www',
  ]
  static override args = {snapshot: Args.string({description: 'SNAPSHOT[:PATH] to restore (default: latest)'})}
  static override flags = {
    to: Flags.string({description: 'target directory or exporter location', required: true}),
    option: Flags.string({char: 'o', description: 'exporter option key=value (repeatable)', multiple: true, multipleNonGreedy: true}),
    'skip-permissions': Flags.boolean({description: 'do not restore owner, group and permission bits'}),
    ...selectionFlags,
    ...thawFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Restore)
    const filter = filterFromFlags(flags)
    const repo = await this.openRepository()
    const {snapshot, path: source} = await resolveTarget(repo, args.snapshot, filter)
    // Before the exporter, which creates its target: a missing path must leave nothing behind.
    // A damaged node holding the entry itself is no reason to stop: restore goes around it.
    await snapshot.requireEntry(source).catch((error: unknown) => {
      if ((error as {plakarExitCode?: unknown})?.plakarExitCode !== 65) throw error
    })
    // A cold storage: thaw the data packfiles this restore reads, and only those; files are
    // restored as their packfiles become readable.
    const thaw = await startThaw({repo, logger: this.logger, json: this.settings.json, quiet: this.settings.quiet, signal: this.abort.signal}, flags, (c) => collectSnapshotPackfiles(snapshot, source, c))
    const exporter = await this.resolver.exporter(flags.to, parseOptions(flags.option ?? []))
    this.onExit(() => exporter.close())
    const display = this.progress()
    const result = await restore(snapshot, source, exporter, {
      skipPermissions: flags['skip-permissions'],
      concurrency: Math.min(this.settings.concurrency, 16),
      signal: this.signal,
      onProgress: (p) => display.update({label: 'restore', files: p.files, totalFiles: p.totalFiles, bytes: p.bytes, totalBytes: p.totalBytes}),
      onError: (p, e) => this.logger.warn(`${p}: ${e}`),
    })
    display.stop()
    await thaw?.finished()
    if (this.settings.json) {
      this.printJson({snapshot: snapshot.id, path: source, target: exporter.root, files: result.files, bytes: result.bytes, errors: result.errors, damaged: result.damaged})
    } else {
      this.say(`restored ${count(result.files, 'file')} (${formatBytes(result.bytes)}) of ${snapshot.id.slice(0, 8)}:${source} to ${exporter.root}, ${count(result.errors, 'error')}`)
    }
    // Damaged data (65) is what the user must hear about first; other failures are 1.
    if (result.damaged > 0) process.exitCode = 65
    else if (result.errors > 0) process.exitCode = 1
  }
}

import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {formatBytes} from '../cli/output.js'
import {parseOptions} from '../connectors/resolver.js'
import {restore} from '../engine/restore.js'
import {loadSnapshot, parseSnapshotPath} from '../engine/snapshot.js'
import {UsageError} from '../errors.js'

export default class Restore extends PlakarCommand {
  static override summary = 'restore a snapshot, or a path of one'
  static override description =
    'Restores the content of the snapshot root (or of ID:PATH) into the target. Without an id, the latest snapshot is used.'
  static override examples = [
    'plakar restore --to /tmp/restored 3f2a',
    'plakar restore --to ./etc-copy 3f2a:/etc',
    'plakar restore --to s3://minio:9000/bucket 3f2a',
  ]
  static override args = {snapshot: Args.string({description: 'ID[:PATH] to restore'})}
  static override flags = {
    to: Flags.string({description: 'target directory or exporter location', required: true}),
    option: Flags.string({char: 'o', description: 'exporter option key=value (repeatable)', multiple: true, multipleNonGreedy: true}),
    'skip-permissions': Flags.boolean({description: 'do not restore owner, group and permission bits'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Restore)
    const repo = await this.openRepository()
    let spec = args.snapshot
    if (!spec) {
      const latest = (await repo.snapshots()).at(-1)
      if (!latest) throw new UsageError('the repository has no snapshot to restore')
      spec = Buffer.from(latest.id).toString('hex')
    }
    const {id, path} = parseSnapshotPath(spec)
    const snapshot = await loadSnapshot(repo, id)
    const source = snapshot.resolve(path)
    // Before the exporter, which creates its target: a missing path must leave nothing behind.
    await snapshot.requireEntry(source)
    const exporter = await this.resolver.exporter(flags.to, parseOptions(flags.option ?? []))
    this.onExit(() => exporter.close())
    const display = this.progress()
    const result = await restore(snapshot, source, exporter, {
      skipPermissions: flags['skip-permissions'],
      concurrency: Math.min(this.settings.concurrency, 16),
      signal: this.abort.signal,
      onProgress: (p) => display.update({label: 'restore', files: p.files, totalFiles: p.totalFiles, bytes: p.bytes, totalBytes: p.totalBytes}),
      onError: (p, e) => this.logger.warn(`${p}: ${e}`),
    })
    display.stop()
    if (this.settings.json) {
      this.printJson({snapshot: snapshot.id, path: source, to: exporter.root, files: result.files, bytes: result.bytes, errors: result.errors})
    } else {
      this.say(`restored ${result.files} files (${formatBytes(result.bytes)}) of ${snapshot.id.slice(0, 8)}:${source} to ${exporter.root}, ${result.errors} errors`)
    }
    if (result.errors > 0) process.exitCode = 1
  }
}

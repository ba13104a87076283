import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {count, formatBytes, formatDuration} from '../cli/output.js'
import {backup} from '@plakar/engine/engine/backup.js'
import {excluder, ignorePatterns} from '@plakar/engine/engine/exclude.js'
import {parseLocation} from '../connectors/location.js'
import {parseOptions} from '../connectors/resolver.js'
import {type Importer, IntegrityError, UsageError} from '@plakar/sdk'
import {redactArgs} from '../connectors/secrets.js'

export default class Backup extends PlakarCommand {
  static override summary = 'take a new snapshot'
  static override description = 'Backs up one or more sources of one importer (default: the current directory) into a new snapshot.'
  static override strict = false
  static override examples = [
    'plakar backup ~/Documents',
    'plakar at /var/backups backup --tag daily --ignore "*.tmp" /etc /home',
    'plakar backup --json --quiet /srv/data',
    'plakar backup --name www /var/www',
  ]
  static override args = {source: Args.string({description: 'what to back up: a path or an importer location'})}
  static override flags = {
    tag: Flags.string({description: 'tag the snapshot (repeatable)', multiple: true, multipleNonGreedy: true}),
    name: Flags.string({description: 'name the snapshot, to select it later with --name'}),
    ignore: Flags.string({description: 'gitignore-style pattern of paths to leave out (repeatable)', multiple: true, multipleNonGreedy: true}),
    'ignore-file': Flags.string({description: 'read ignore patterns from a file (repeatable)', multiple: true, multipleNonGreedy: true}),
    option: Flags.string({char: 'o', description: 'importer option key=value (repeatable)', multiple: true, multipleNonGreedy: true}),
    check: Flags.boolean({description: 'verify the new snapshot after the backup'}),
    'dry-run': Flags.boolean({description: 'read and chunk everything but store nothing'}),
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(Backup)
    const sources = (argv as string[]).length > 0 ? (argv as string[]) : ['.']
    const schemes = new Set(sources.map((s) => parseLocation(s).scheme))
    if (schemes.size > 1) throw new UsageError('all sources of one backup must use the same importer')
    if (flags.name !== undefined && (flags.name.trim() === '' || /[\n\r]/.test(flags.name))) {
      throw new UsageError('--name: give a non-empty name on one line')
    }
    const options = parseOptions(flags.option ?? [])
    const importers: Importer[] = []
    this.onExit(async () => {
      for (const importer of importers) await importer.close()
    })
    // Importers first: one may start work of its own (the fs importer boots its walk's thread)
    // while the repository opens (the key derivation, the cache).
    for (const source of sources) importers.push(await this.resolver.importer(source, options))
    const repo = await this.openRepository()
    const patterns = ignorePatterns(flags.ignore ?? [], flags['ignore-file'] ?? [])
    const skipByRoot = importers.map((i) => excluder(i.root, patterns, [this.settings.cacheDir]))

    const display = this.progress()
    const result = await backup(repo, importers, {
      tags: flags.tag,
      name: flags.name,
      dryRun: flags['dry-run'],
      skip: (path, isDir) => skipByRoot.some((skip) => skip(path, isDir)),
      command: redactArgs(process.argv.slice(2), [
        ...this.resolver.resolve('importer', sources[0], options).connector.secrets,
        ...this.resolver.resolve('storage', this.settings.repository, this.settings.repositoryOptions).connector.secrets,
      ]),
      concurrency: this.settings.concurrency,
      signal: this.signal,
      // Totals for the ETA cost a second scan: cheap on a local disk, not on a remote source.
      countFirst: !!process.stderr.isTTY && !this.settings.quiet && !this.settings.json && importers.every((i) => i.local),
      tmpDir: this.settings.cacheDir,
      onProgress: (p) =>
        display.update({label: 'backup', files: p.files, totalFiles: p.totalFiles, bytes: p.bytes, totalBytes: p.totalBytes}),
      onError: (e) => this.logger.warn(`${e.path}: ${e.error}`),
    })
    display.stop()
    const s = result.snapshot!
    if (!result.dryRun) {
      // A WORM storage: the new snapshot reuses older packfiles; keep them all locked as long as its own.
      const {extendLiveRetention} = await import('@plakar/engine/engine/worm.js')
      const extended = await extendLiveRetention(repo, {signal: this.signal})
      if (extended.until !== undefined) this.logger.debug(`retention of ${extended.objects} objects extended to ${new Date(extended.until).toISOString()}`)
    }
    let problems = 0
    if (flags.check && !flags['dry-run']) {
      // Loaded for --check only: every other backup's start skips these modules.
      const [{check}, {Snapshot}] = await Promise.all([import('@plakar/engine/engine/check.js'), import('@plakar/engine/engine/snapshot.js')])
      const checked = await check(repo, [{snapshot: new Snapshot(repo, s), path: s.importer.root}], {
        onProblem: (p) => this.logger.warn(p.message),
      })
      problems = checked.problems.length
    }
    if (this.settings.json) {
      this.printJson({
        id: result.dryRun ? null : result.id,
        dryRun: result.dryRun,
        root: s.importer.root,
        files: s.summary.files,
        directories: s.summary.directories,
        errors: result.progress.errors,
        size: s.summary.size,
        addedBytes: s.stats.addedBytes,
        durationMs: s.stats.durationMs,
        lostPackfiles: result.lostPackfiles,
        recovered: result.progress.recovered,
        ...(flags.check ? {checkProblems: problems} : {}),
      })
    } else {
      const what = result.dryRun ? 'dry run: would create snapshot' : `created snapshot ${result.id.slice(0, 8)}`
      this.say(
        `${what}: ${count(s.summary.files, 'file')}, ${formatBytes(s.summary.size)}, ` +
          `${formatBytes(s.stats.addedBytes)} added, ${count(result.progress.errors, 'error')}, in ${formatDuration(s.stats.durationMs)}`,
      )
    }
    if (problems > 0) throw new IntegrityError(`the new snapshot failed its check (${problems} problems)`)
    if (result.progress.errors > 0) process.exitCode = 1
  }
}

import {Args, Flags} from '@oclif/core'
import {randomBytes} from 'node:crypto'
import {createWriteStream} from 'node:fs'
import {rename, rm} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {Transform, type Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {PlakarCommand} from '../cli/base-command.js'
import {formatBytes} from '../cli/output.js'
import {expandPath} from '../connectors/location.js'
import type {ArchiveFormat} from '@plakar/engine/engine/archive.js'
import {loadSnapshot, parseSnapshotPath} from '@plakar/engine/engine/snapshot.js'
import {UsageError} from '@plakar/sdk'
import {startThaw, thawFlags} from '../cli/thaw.js'
import {collectSnapshotPackfiles} from '@plakar/engine/engine/thaw.js'

/** What the user may write after --format, and the engine's name for it. */
const FORMATS: Record<string, ArchiveFormat> = {tar: 'tar', tgz: 'tar.gz', 'tar.gz': 'tar.gz', zip: 'zip'}

export default class Archive extends PlakarCommand {
  static override summary = 'write a snapshot, or a path of one, as a tar, tar.gz or zip archive'
  static override description =
    'Streams the subtree ID[:PATH] as one archive to a file or to standard output, without temporary files; memory does not grow with its size.'
  static override examples = [
    'plakar archive -o etc.tar.gz --format tgz 3f2a:/etc',
    'plakar archive --format zip -o photos.zip 3f2a:/home/me/photos',
    'plakar archive 3f2a:/srv/www | tar -tv',
  ]
  static override args = {snapshot: Args.string({description: 'ID[:PATH] to archive', required: true})}
  static override flags = {
    format: Flags.string({description: 'archive format: tar, tgz (tar.gz) or zip', options: Object.keys(FORMATS), default: 'tar'}),
    output: Flags.string({char: 'o', description: 'file to write, or "-" for standard output (the default when it is not a terminal)'}),
    ...thawFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Archive)
    const format = FORMATS[flags.format]
    const toStdout = flags.output === '-' || (flags.output === undefined && !process.stdout.isTTY)
    if (flags.output === undefined && !toStdout) {
      throw new UsageError('standard output is a terminal: name a file with -o FILE, or pipe the archive into a program')
    }
    if (toStdout && this.settings.json) throw new UsageError('--json needs -o FILE: standard output carries the archive')
    const repo = await this.openRepository()
    const {id, path} = parseSnapshotPath(args.snapshot)
    const snapshot = await loadSnapshot(repo, id)
    const source = snapshot.resolve(path)
    const root = await snapshot.requireEntry(source)
    if (root.info.type !== 'directory' && root.info.type !== 'file') throw new UsageError(`${source} is a ${root.info.type}: only a directory or a file can be archived`)
    // A cold storage: thaw the data packfiles the archive reads; entries are written as they become readable.
    const thaw = await startThaw({repo, logger: this.logger, json: this.settings.json, quiet: this.settings.quiet, signal: this.abort.signal}, flags, (c) =>
      collectSnapshotPackfiles(snapshot, source, c),
    )

    // The engine loads tar-stream and yazl only for this command.
    const {archiveStream} = await import('@plakar/engine/engine/archive.js')
    let skipped = 0
    let bytes = 0
    const display = this.progress()
    const stream = archiveStream(snapshot, source, format, {
      signal: this.abort.signal,
      onSkip: (p, reason) => {
        skipped++
        this.logger.warn(`${p}: ${reason}`)
      },
    })
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length
        display.update({label: 'archive', files: 0, unit: 'entries', bytes})
        done(null, chunk)
      },
    })

    let output: string | undefined
    if (toStdout) {
      await pipeline(stream, counter, process.stdout as unknown as Writable, {end: false, signal: this.abort.signal})
    } else {
      // Written under a temporary name and renamed when complete: an interrupted or failed
      // archive never leaves a truncated file that looks like a finished one.
      output = expandPath(flags.output!)
      const temporary = join(dirname(output), `.${basename(output)}.${randomBytes(6).toString('hex')}.plakar-tmp`)
      try {
        await pipeline(stream, counter, createWriteStream(temporary, {flags: 'wx'}), {signal: this.abort.signal})
        await rename(temporary, output)
      } catch (error) {
        await rm(temporary, {force: true})
        throw error
      }
    }
    display.stop()
    await thaw?.finished()
    if (this.settings.json) {
      this.printJson({snapshot: snapshot.id, path: source, format, output, bytes, skipped})
    } else if (output !== undefined) {
      this.say(`wrote ${formatBytes(bytes)} of ${snapshot.id.slice(0, 8)}:${source} to ${output} (${format}), ${skipped} entries left out`)
    }
    if (skipped > 0) process.exitCode = 1
  }
}

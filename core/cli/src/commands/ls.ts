import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {columns, escapeName, formatBytes, formatMode, formatTime} from '../cli/output.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {filterSnapshots, resolveTarget} from '@plakar/engine/engine/selection.js'
import type {Entry} from '@plakar/engine/tree/entry.js'

export default class Ls extends PlakarCommand {
  static override summary = 'list snapshots, or a directory of one'
  static override description =
    'Without an argument, lists the snapshots (those the filters select), oldest first. With SNAPSHOT[:PATH], lists that directory of the snapshot.'
  static override examples = [
    'plakar ls',
    'plakar ls 3f2a',
    'plakar ls --recursive 3f2a:/etc',
    'plakar ls --json --tag daily',
    'plakar ls --host web1 --since 7d',
    'plakar ls latest:/etc',
  ]
  static override args = {snapshot: Args.string({description: 'SNAPSHOT[:PATH] of a directory to list'})}
  static override flags = {
    recursive: Flags.boolean({char: 'R', description: 'list everything below the directory'}),
    utc: Flags.boolean({description: 'show times in UTC instead of the local time zone'}),
    ...selectionFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Ls)
    const filter = filterFromFlags(flags)
    const repo = await this.openRepository()
    if (!args.snapshot) {
      const rows: string[][] = [['ID', 'TIME', 'HOST', 'SIZE', 'FILES', 'SOURCE']]
      for (const h of await filterSnapshots(repo, filter)) {
        if (this.settings.json) {
          this.printJson({
            id: h.id,
            time: new Date(h.time).toISOString(),
            host: h.host,
            user: h.user,
            name: h.name ?? null,
            tags: h.tags,
            importer: h.importer,
            files: h.files,
            size: h.size,
            errors: h.errors,
          })
        } else {
          const tags = h.tags.length > 0 ? ` [${h.tags.map(escapeName).join(',')}]` : ''
          const name = h.name ? ` (${escapeName(h.name)})` : ''
          const source = `${h.importer.type === 'fs' ? '' : `${h.importer.type}:`}${escapeName(h.importer.root)}`
          rows.push([h.id.slice(0, 8), formatTime(h.time, flags.utc), escapeName(h.host), formatBytes(h.size), String(h.files), `${source}${name}${tags}`])
        }
      }
      // A header and aligned columns for people; nothing at all when there is nothing to list.
      // One write: 10,000 snapshots are 10,000 synchronous writes to a pipe otherwise.
      if (!this.settings.json && rows.length > 1) this.print(columns(rows, new Set([3, 4])).join('\n'))
      return
    }
    const {snapshot, path: dir} = await resolveTarget(repo, args.snapshot, filter)
    const top = await snapshot.requireEntry(dir)
    const show = (p: string, e: Entry) => {
      if (this.settings.json) {
        this.printJson({path: p, type: e.info.type, size: e.info.size, mode: e.info.mode, mtime: e.info.mtime ? new Date(e.info.mtime).toISOString() : undefined, uid: e.info.uid, gid: e.info.gid, target: e.target, error: e.error})
        return
      }
      const name = escapeName(flags.recursive ? p : p.slice(p.lastIndexOf('/') + 1))
      const when = e.info.mtime ? formatTime(e.info.mtime, flags.utc) : ''.padEnd(19)
      const owner = `${e.info.username ?? e.info.uid ?? '-'} ${e.info.groupname ?? e.info.gid ?? '-'}`
      const link = e.target ? ` -> ${escapeName(e.target)}` : ''
      const err = e.error ? `  (error: ${e.error})` : ''
      this.print(`${formatMode(e.info.type, e.info.mode)} ${owner.padEnd(17)} ${String(e.info.size).padStart(12)} ${when} ${name}${link}${err}`)
    }
    if (top.info.type !== 'directory') return show(dir, top)
    if (flags.recursive) {
      for await (const [p, e] of snapshot.walk(dir)) if (p !== dir) show(p, e)
    } else {
      for await (const [p, e] of snapshot.children(dir)) show(p, e)
    }
  }
}

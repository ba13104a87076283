import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {formatBytes, formatMode} from '../cli/output.js'
import {loadSnapshot, parseSnapshotPath} from '../engine/snapshot.js'
import type {Entry} from '../tree/entry.js'

export default class Ls extends PlakarCommand {
  static override summary = 'list snapshots, or a directory of one'
  static override description = 'Without an argument, lists the snapshots, oldest first. With ID[:PATH], lists that directory of the snapshot.'
  static override examples = ['plakar ls', 'plakar ls 3f2a', 'plakar ls --recursive 3f2a:/etc', 'plakar ls --json --tag daily']
  static override args = {snapshot: Args.string({description: 'ID[:PATH] of a directory to list'})}
  static override flags = {
    recursive: Flags.boolean({char: 'R', description: 'list everything below the directory'}),
    tag: Flags.string({description: 'only snapshots with this tag'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Ls)
    const repo = await this.openRepository()
    if (!args.snapshot) {
      for (const h of await repo.snapshots()) {
        if (flags.tag && !h.tags.includes(flags.tag)) continue
        const id = Buffer.from(h.id).toString('hex')
        if (this.settings.json) {
          this.printJson({
            id,
            time: new Date(h.time).toISOString(),
            host: h.host,
            user: h.user,
            tags: h.tags,
            importer: h.importer,
            files: h.summary.files,
            size: h.summary.size,
            errors: h.summary.errors,
          })
        } else {
          const tags = h.tags.length > 0 ? ` [${h.tags.join(',')}]` : ''
          this.print(`${new Date(h.time).toISOString()}  ${id.slice(0, 8)}  ${formatBytes(h.summary.size).padStart(10)}  ${h.importer.type}:${h.importer.root}${tags}`)
        }
      }
      return
    }
    const {id, path} = parseSnapshotPath(args.snapshot)
    const snapshot = await loadSnapshot(repo, id)
    const dir = snapshot.resolve(path)
    const top = await snapshot.requireEntry(dir)
    const show = (p: string, e: Entry) => {
      if (this.settings.json) {
        this.printJson({path: p, type: e.info.type, size: e.info.size, mode: e.info.mode, mtime: e.info.mtime ? new Date(e.info.mtime).toISOString() : undefined, uid: e.info.uid, gid: e.info.gid, target: e.target, error: e.error})
        return
      }
      const name = flags.recursive ? p : p.slice(p.lastIndexOf('/') + 1)
      const when = e.info.mtime ? new Date(e.info.mtime).toISOString().replace('T', ' ').slice(0, 19) : ''.padEnd(19)
      const owner = `${e.info.username ?? e.info.uid ?? '-'} ${e.info.groupname ?? e.info.gid ?? '-'}`
      const link = e.target ? ` -> ${e.target}` : ''
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

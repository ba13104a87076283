import {Args} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {count, formatBytes, formatDuration} from '../cli/output.js'
import {redactArgs, redactLocation} from '../connectors/secrets.js'
import {listSnapshots, resolveTarget} from '@plakar/engine/engine/selection.js'

export default class Info extends PlakarCommand {
  static override summary = 'show repository or snapshot details'
  static override description = 'Without an argument: the repository (configuration, sizes, dedup ratio). With an id: that snapshot.'
  static override examples = ['plakar info', 'plakar info 3f2a', 'plakar info --json']
  static override args = {snapshot: Args.string({description: 'snapshot: an id prefix, latest or latest~N'})}

  async run(): Promise<void> {
    const {args} = await this.parse(Info)
    const repo = await this.openRepository()
    if (args.snapshot) {
      const {snapshot} = await resolveTarget(repo, args.snapshot.split(':')[0])
      const h = snapshot.header
      const info = {
        id: snapshot.id,
        time: new Date(h.time).toISOString(),
        host: h.host,
        user: h.user,
        name: h.name ?? null,
        tags: h.tags,
        importer: h.importer,
        // Snapshots of older versions may have recorded secrets the rule now masks.
        command: redactArgs(h.command),
        parent: h.parent ? Buffer.from(h.parent).toString('hex') : null,
        summary: h.summary,
        stats: h.stats,
      }
      if (this.settings.json) return this.printJson(info)
      this.print(`snapshot   ${info.id}`)
      this.print(`time       ${info.time} (took ${formatDuration(h.stats.durationMs)})`)
      this.print(`host/user  ${h.host} / ${h.user}`)
      if (h.name) this.print(`name       ${h.name}`)
      this.print(`source     ${h.importer.type}:${h.importer.root} (origin ${h.importer.origin})`)
      if (h.tags.length > 0) this.print(`tags       ${h.tags.join(', ')}`)
      if (info.parent) this.print(`parent     ${info.parent}`)
      this.print(`contents   ${count(h.summary.files, 'file')}, ${count(h.summary.directories, 'directory', 'directories')}, ${count(h.summary.symlinks, 'symlink')}, ${count(h.summary.errors, 'error')}`)
      this.print(`size       ${formatBytes(h.summary.size)} (${formatBytes(h.stats.readBytes)} read, ${formatBytes(h.stats.addedBytes)} added to the repository)`)
      const types = Object.entries(h.summary.types).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`)
      if (types.length > 0) this.print(`types      ${types.join(', ')}`)
      return
    }
    const c = repo.config
    const stats = repo.cache.stats()
    // Everything from the local cache (the states carry each snapshot's size): no header read,
    // no request per packfile, even on a remote storage with 10,000 snapshots.
    const headers = await listSnapshots(repo)
    const logical = headers.reduce((n, h) => n + h.size, 0)
    const info = {
      id: repo.id,
      location: redactLocation(repo.storage.location),
      version: c.version,
      created: c.created,
      encryption: c.encryption ? {algorithm: c.encryption.algorithm, kdf: {...c.encryption.kdf, salt: undefined}} : null,
      compression: c.compression,
      chunking: c.chunking,
      packfileSize: c.packfile.maxSize,
      metadataParity: c.packfile.parity !== false,
      snapshots: headers.length,
      packfiles: repo.cache.packfiles().length,
      blobs: stats.blobs,
      /** Sum of the snapshots' file sizes. */
      logicalBytes: logical,
      /** Unique content before compression and encryption. */
      uniqueBytes: stats.raw,
      /** Stored blob bytes, after compression and encryption. */
      storedBytes: stats.stored,
      dedupRatio: stats.raw > 0 ? logical / stats.raw : 1,
      compressionRatio: stats.stored > 0 ? stats.raw / stats.stored : 1,
      cacheDir: this.settings.cacheDir,
    }
    if (this.settings.json) return this.printJson(info)
    this.print(`repository ${info.id}`)
    this.print(`location   ${info.location}`)
    this.print(`created    ${info.created} (format version ${info.version})`)
    this.print(`encryption ${c.encryption ? `${c.encryption.algorithm}, key from argon2id (${c.encryption.kdf.memory} KiB, ${c.encryption.kdf.iterations} passes)` : 'none (plaintext)'}`)
    this.print(`compression ${c.compression.algorithm}${c.compression.algorithm === 'none' ? '' : ` level ${c.compression.level}`}`)
    this.print(`parity     ${info.metadataParity ? 'metadata: XOR over 4 KiB shards, one per 16' : 'none'}`)
    this.print(`chunking   fastcdc ${formatBytes(c.chunking.min)} / ${formatBytes(c.chunking.avg)} / ${formatBytes(c.chunking.max)}`)
    this.print(`snapshots  ${info.snapshots} holding ${formatBytes(logical)} of files`)
    this.print(`unique     ${formatBytes(stats.raw)} after deduplication (×${info.dedupRatio.toFixed(2)})`)
    this.print(`stored     ${formatBytes(stats.stored)} after compression and encryption (×${info.compressionRatio.toFixed(2)}) in ${info.packfiles} packfiles, ${stats.blobs} blobs`)
  }
}

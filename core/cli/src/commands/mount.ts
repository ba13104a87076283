import {Args, Flags} from '@oclif/core'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {delimiter, join, resolve} from 'node:path'
import {selectSnapshots} from '@plakar/engine/engine/selection.js'
import {PlakarError, UsageError} from '@plakar/sdk'
import {PlakarCommand} from '../cli/base-command.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'

export default class Mount extends PlakarCommand {
  static override summary = 'show snapshots as a read-only file system'
  static override description =
    'Serves the selected snapshots as a read-only WebDAV tree (latest, snapshots/ID, tags/TAG/ID, dates/DAY/ID) on 127.0.0.1, and with a MOUNTPOINT mounts it there through FUSE (rclone). Runs until Ctrl-C.'
  static override examples = ['plakar mount ~/snapshots', 'plakar mount --tag daily /mnt/backups', 'plakar mount --port 8080']
  static override args = {mountpoint: Args.string({description: 'an empty directory to mount the snapshots on (needs FUSE and rclone)'})}
  static override flags = {
    port: Flags.integer({description: 'serve WebDAV on this port of 127.0.0.1 (default: a free one)', min: 1, max: 65535}),
    ...selectionFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Mount)
    const mountpoint = args.mountpoint === undefined ? undefined : resolve(args.mountpoint)
    let rclone: string | undefined
    if (mountpoint !== undefined) {
      if (!existsSync('/dev/fuse')) throw new UsageError('this machine has no FUSE (/dev/fuse): run without a mount point and mount the WebDAV address with a WebDAV client')
      rclone = which('rclone')
      if (!rclone) throw new UsageError('mounting needs rclone (apt install rclone fuse3): or run without a mount point and use the WebDAV address')
      if (!existsSync(mountpoint)) throw new UsageError(`${mountpoint}: no such directory`)
    }
    const repo = await this.openRepository()
    const entries = await selectSnapshots(repo, [], filterFromFlags(flags))
    const {serveWebdav} = await import('../mount/webdav.js')
    const {server, url} = await serveWebdav(repo, entries, {port: flags.port, onError: (m) => this.logger.warn(m)})
    this.onExit(() => new Promise<void>((done) => server.close(() => done())))

    let child: ChildProcess | undefined
    if (mountpoint !== undefined && rclone) {
      // rclone's FUSE mount of the WebDAV view: the kernel asks rclone, rclone asks us. No
      // cache on rclone's side, so what is read is what the repository holds.
      child = spawn(rclone, ['mount', ':webdav:', mountpoint, '--webdav-url', url, '--read-only', '--vfs-cache-mode', 'off', '--dir-cache-time', '1h'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
      this.onExit(async () => {
        if (child && child.exitCode === null) {
          child.kill('SIGTERM')
          await new Promise<void>((done) => child!.once('exit', () => done()))
        }
      })
      await waitForMount(mountpoint, child, () => stderr)
    }
    if (this.settings.json) this.printJson({url, mountpoint: mountpoint ?? null, snapshots: entries.length})
    else if (mountpoint) this.print(`plakar mount: ${entries.length} snapshots mounted read-only at ${mountpoint} (WebDAV ${url}); Ctrl-C to unmount`)
    else this.print(`plakar mount: ${entries.length} snapshots served read-only at ${url} (WebDAV: rclone mount :webdav: DIR --webdav-url ${url} --read-only); Ctrl-C to stop`)
    await new Promise<void>((done) => {
      if (this.signal.aborted) return done()
      this.signal.addEventListener('abort', () => done(), {once: true})
      child?.once('exit', () => done())
    })
  }
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, name)
    if (dir && existsSync(path)) return path
  }
  return undefined
}

/** Resolves once the kernel lists the mount point (rclone gives no readiness signal of its own). */
async function waitForMount(mountpoint: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const mounted = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === mountpoint)
  let exited = false
  child.once('exit', () => (exited = true))
  while (!mounted()) {
    if (exited) throw new PlakarError(`rclone could not mount ${mountpoint}: ${stderr().trim().split('\n').at(-1) ?? `exit ${child.exitCode}`}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

import type {Exporter} from '../interfaces/exporter.js'
import {TaskPool} from '../util/concurrency.js'
import type {Snapshot} from './snapshot.js'
import {normalizeStoredPath} from '../tree/path-key.js'
import type {Entry} from '../tree/entry.js'

export interface RestoreProgress {
  files: number
  bytes: number
  totalFiles: number
  totalBytes: number
  errors: number
}

export interface RestoreOptions {
  skipPermissions?: boolean
  concurrency?: number
  onProgress?: (progress: RestoreProgress) => void
  onError?: (path: string, error: string) => void
  signal?: AbortSignal
}

/**
 * Restores the entry at `path` of a snapshot (a directory's content, or one file under its own
 * name) into an exporter. Paths that are not canonical ("..", empty components) are refused,
 * whatever the snapshot says; the exporter is trusted only with paths inside its root.
 * Directories get their metadata after all their children, so their mtimes stick.
 */
export async function restore(snapshot: Snapshot, path: string, exporter: Exporter, options: RestoreOptions = {}): Promise<RestoreProgress> {
  const top = await snapshot.requireEntry(path)
  const below = top.summary?.below
  const progress: RestoreProgress = {
    files: 0,
    bytes: 0,
    totalFiles: top.info.type === 'file' ? 1 : (below?.files ?? 0),
    totalBytes: top.info.type === 'file' ? top.info.size : (below?.size ?? 0),
    errors: 0,
  }
  const fail = (p: string, error: string) => {
    progress.errors++
    options.onError?.(p, error)
  }
  const infoOf = (entry: Entry) =>
    options.skipPermissions ? {...entry.info, mode: undefined, uid: undefined, gid: undefined} : entry.info
  const base = path === '/' ? '' : path
  const relative = (p: string): string | undefined => {
    if (normalizeStoredPath(p) === undefined) return undefined
    if (top.info.type !== 'directory') return `/${p.slice(p.lastIndexOf('/') + 1)}`
    if (p === path) return '/'
    if (!p.startsWith(`${base}/`)) return undefined
    return p.slice(base.length)
  }

  const pool = new TaskPool(options.concurrency ?? 4)
  /** Open directories, outermost first, each with the files still being written in it. */
  const stack: {rel: string; entry: Entry; pending: Promise<void>[]}[] = []
  const hardlinks = new Map<string, string>()

  const closeDirectory = async () => {
    const dir = stack.pop()!
    await Promise.all(dir.pending)
    try {
      await exporter.setMetadata(dir.rel, infoOf(dir.entry))
    } catch (error) {
      fail(dir.rel, (error as Error).message)
    }
  }

  for await (const [p, entry] of snapshot.walk(path)) {
    options.signal?.throwIfAborted()
    const rel = relative(p)
    if (rel === undefined) {
      fail(p, 'refused: the path is not canonical (it could escape the restore target)')
      continue
    }
    while (stack.length > 0 && !(rel.startsWith(`${stack.at(-1)!.rel === '/' ? '' : stack.at(-1)!.rel}/`) && rel !== stack.at(-1)!.rel)) {
      await closeDirectory()
    }
    if (entry.error) {
      fail(p, `not restored: it could not be backed up (${entry.error})`)
      continue
    }
    const parentFrame = stack.at(-1)
    try {
      switch (entry.info.type) {
        case 'directory':
          await exporter.createDirectory(rel, infoOf(entry))
          stack.push({rel, entry, pending: []})
          break
        case 'symlink':
          await exporter.createLink(rel, entry.target ?? '', 'symlink', infoOf(entry))
          break
        case 'file': {
          const linkKey = (entry.info.nlink ?? 1) > 1 && entry.info.ino !== undefined ? `${entry.info.dev}:${entry.info.ino}` : undefined
          const first = linkKey ? hardlinks.get(linkKey) : undefined
          if (first !== undefined) {
            await exporter.createLink(rel, first, 'hardlink')
            progress.files++
            break
          }
          if (linkKey) hardlinks.set(linkKey, rel)
          let done!: () => void
          const task = new Promise<void>((resolve) => (done = resolve))
          // Awaiting admission paces the walk: at most `concurrency` files are in flight.
          await pool.run(async () => {
            try {
              await exporter.storeFile(rel, await snapshot.open(entry), infoOf(entry))
              progress.files++
              progress.bytes += entry.info.size
              options.onProgress?.(progress)
            } catch (error) {
              // The target or the repository failed as a whole: stop with that one error.
              if ((error as {fatal?: unknown})?.fatal === true) throw error
              fail(p, (error as Error).message)
            } finally {
              done()
            }
          })
          if (parentFrame) parentFrame.pending.push(task)
          else await task
          // Later hard links to this file need it written first.
          if (linkKey) await task
          break
        }
        default:
          fail(p, `not restored: ${entry.info.type} entries are not supported by this exporter`)
      }
    } catch (error) {
      fail(p, (error as Error).message)
    }
  }
  while (stack.length > 0) await closeDirectory()
  await pool.drain()
  options.onProgress?.(progress)
  return progress
}

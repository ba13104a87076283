import {posix} from 'node:path'
import type {SftpOpError} from './errors.js'
import type {SftpSession} from './session.js'

/** mkdir -p over SFTP. OpenSSH answers FAILURE for an existing directory, NO_SUCH_FILE for a missing parent. */
export async function mkdirp(session: SftpSession, dir: string, mode = 0o700): Promise<void> {
  try {
    await session.mkdir(dir, {mode})
    return
  } catch (error) {
    if ((error as SftpOpError).transient) throw error
    const stats = await session.stat(dir).catch((e: SftpOpError) => {
      if (e.transient) throw e
      return undefined
    })
    if (stats?.isDirectory()) return
    if (stats) throw error
    const parent = posix.dirname(dir)
    if (parent === dir || (error as SftpOpError).code === 'EACCES') throw error
    await mkdirp(session, parent, mode)
  }
  try {
    await session.mkdir(dir, {mode})
  } catch (error) {
    if ((await session.stat(dir).catch(() => undefined))?.isDirectory()) return
    throw error
  }
}

/** Every entry name of a directory (batches of READDIR), or undefined if it does not exist. */
export async function readdirNames(session: SftpSession, dir: string): Promise<string[] | undefined> {
  return (await readdirSizes(session, dir))?.map((e) => e.name)
}

/** Every entry of a directory with the size READDIR reports, or undefined if it does not exist. */
export async function readdirSizes(session: SftpSession, dir: string): Promise<{name: string; size: number}[] | undefined> {
  let handle: Buffer
  try {
    handle = await session.opendir(dir)
  } catch (error) {
    if ((error as SftpOpError).code === 'ENOENT') return undefined
    throw error
  }
  const names: {name: string; size: number}[] = []
  try {
    for (;;) {
      const batch = await session.readdirBatch(handle, dir)
      if (!batch) break
      for (const entry of batch) names.push({name: entry.filename, size: Number(entry.attrs?.size ?? 0)})
    }
  } finally {
    session.forget(handle)
  }
  return names
}

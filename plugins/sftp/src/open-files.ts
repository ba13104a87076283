import type {SftpConnector} from './connector.js'
import type {SftpSession} from './session.js'

interface OpenFile {
  session: SftpSession
  handle: Buffer
  size: Promise<number>
  users: number
  lastUsed: number
}

export interface Lease {
  session: SftpSession
  handle: Buffer
  size: Promise<number>
  release: () => void
}

/**
 * Handles of recently read files, kept open: a restore reads many blobs from each packfile,
 * and a range read on an open handle is one round trip (READ) instead of two (OPEN, then READ)
 * plus a CLOSE. Only for immutable files (packfiles: same id, same bytes). A handle whose
 * connection was lost is dropped on its next use; the least recently used idle handles are
 * closed beyond `max`.
 */
export class OpenFiles {
  readonly #connector: SftpConnector
  readonly #max: number
  readonly #files = new Map<string, OpenFile>()
  readonly #opening = new Map<string, Promise<OpenFile>>()
  #clock = 0

  constructor(connector: SftpConnector, max = 32) {
    this.#connector = connector
    this.#max = max
  }

  async lease(path: string): Promise<Lease> {
    let file = this.#files.get(path)
    if (file?.session.lost) {
      this.#files.delete(path)
      file = undefined
    }
    if (!file) {
      let opening = this.#opening.get(path)
      if (!opening) {
        opening = this.#connector
          .run(async (session) => {
            const handle = await session.open(path, 'r')
            // Asked now, awaited by the reader alongside its first READs.
            const size = session.fstat(handle).then((stats) => stats.size ?? 0)
            size.catch(() => {})
            return {session, handle, size, users: 0, lastUsed: 0}
          })
          .finally(() => this.#opening.delete(path))
        this.#opening.set(path, opening)
      }
      file = await opening
      if (!this.#files.has(path)) this.#files.set(path, file)
    }
    const leased = file
    leased.users++
    leased.lastUsed = ++this.#clock
    this.#evict()
    let released = false
    return {
      session: leased.session,
      handle: leased.handle,
      size: leased.size,
      release: () => {
        if (released) return
        released = true
        leased.users--
        // A handle replaced meanwhile (lost connection, eviction) is closed once idle.
        if (leased.users === 0 && this.#files.get(path) !== leased) leased.session.forget(leased.handle)
        this.#evict()
      },
    }
  }

  /** Closes the handle of `path` (the file is being deleted). */
  drop(path: string): void {
    const file = this.#files.get(path)
    if (!file) return
    this.#files.delete(path)
    if (file.users === 0) file.session.forget(file.handle)
  }

  #evict(): void {
    while (this.#files.size > this.#max) {
      let oldest: [string, OpenFile] | undefined
      for (const entry of this.#files) if (entry[1].users === 0 && (!oldest || entry[1].lastUsed < oldest[1].lastUsed)) oldest = entry
      if (!oldest) return
      this.#files.delete(oldest[0])
      oldest[1].session.forget(oldest[1].handle)
    }
  }

  closeAll(): void {
    for (const file of this.#files.values()) file.session.forget(file.handle)
    this.#files.clear()
  }
}

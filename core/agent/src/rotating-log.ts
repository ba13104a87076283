import {appendFileSync, mkdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {dirname} from 'node:path'

/**
 * The agent's log: one timestamped line per event, appended synchronously (a line logged
 * before a crash or a kill -9 is on disk), rotated by size: agent.log → agent.log.1 → … →
 * agent.log.KEEP, the oldest dropped. Small enough not to need a library; synchronous appends
 * are what a stream-based rotating logger would not give.
 */
export class RotatingLog {
  readonly path: string
  readonly #maxBytes: number
  readonly #keep: number
  #size: number
  readonly #echo?: (line: string) => void

  constructor(path: string, options: {maxBytes: number; keep: number; echo?: (line: string) => void}) {
    this.path = path
    this.#maxBytes = options.maxBytes
    this.#keep = options.keep
    this.#echo = options.echo
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    try {
      this.#size = statSync(path).size
    } catch {
      this.#size = 0
    }
  }

  write(level: 'info' | 'warn' | 'error' | 'debug', message: string): void {
    const line = `${new Date().toISOString()} ${level.padEnd(5)} ${message.replace(/\n/g, ' ⏎ ')}\n`
    const bytes = Buffer.byteLength(line)
    if (this.#size > 0 && this.#size + bytes > this.#maxBytes) this.#rotate()
    appendFileSync(this.path, line, {mode: 0o600})
    this.#size += bytes
    this.#echo?.(line)
  }

  #rotate(): void {
    rmSync(`${this.path}.${this.#keep}`, {force: true})
    for (let i = this.#keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`)
      } catch {
        // that generation does not exist yet
      }
    }
    renameSync(this.path, `${this.path}.1`)
    this.#size = 0
  }
}

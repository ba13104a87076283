import {formatBytes, formatDuration, plural} from './output.js'
import {clearStatus, printAbove, showStatus} from './status-line.js'

export interface ProgressState {
  label: string
  files: number
  totalFiles?: number
  bytes: number
  totalBytes?: number
  /** What `files` counts, singular (default "file"). */
  unit?: string
  /** Bytes that need not move because the other side has them (sync). */
  saved?: number
}

export type ProgressMode = 'bar' | 'lines' | 'off'

/** Samples older than this leave the rate: it follows the current speed, not the average. */
const RATE_WINDOW_MS = 5000
const BAR_WIDTH = 20

/**
 * Progress on stderr. On a terminal ('bar'): one status line (bar, counts, rate over the last
 * five seconds, ETA) redrawn at most five times a second, with log lines printed above it. Off a
 * terminal ('lines'): one plain line every `interval` ms, for logs of scheduled runs. 'off' with
 * --quiet or --json. No timer of its own keeps the process alive: a command that ends by an
 * error ends even if nobody called stop().
 */
export class ProgressDisplay {
  readonly #mode: ProgressMode
  readonly #interval: number
  readonly #samples: {t: number; bytes: number}[] = []
  #state?: ProgressState
  #lastDraw = 0
  #timer?: NodeJS.Timeout
  #stopped = false

  constructor(mode: ProgressMode, options: {interval?: number} = {}) {
    this.#mode = mode
    this.#interval = options.interval ?? (mode === 'bar' ? 200 : 10_000)
    if (mode === 'off') return
    // Redraws while the engine is quiet (a stalled network): the rate then falls, as it should.
    this.#timer = setInterval(() => this.#draw(), this.#interval)
    this.#timer.unref()
    live.add(this)
  }

  /** False with --quiet or --json: nothing is shown, so totals need not be worked out. */
  get active(): boolean {
    return this.#mode !== 'off'
  }

  update(state: ProgressState): void {
    if (this.#mode === 'off' || this.#stopped) return
    this.#state = state
    const now = Date.now()
    const last = this.#samples.at(-1)
    if (!last || now - last.t >= 100) this.#samples.push({t: now, bytes: state.bytes})
    else last.bytes = state.bytes
    while (this.#samples.length > 2 && now - this.#samples[0].t > RATE_WINDOW_MS) this.#samples.shift()
    if (this.#mode === 'bar' && now - this.#lastDraw >= this.#interval) this.#draw()
  }

  /** Bytes per second over the last few seconds. */
  rate(now = Date.now()): number {
    const first = this.#samples[0]
    const last = this.#samples.at(-1)
    if (!first || !last || last === first) return 0
    // A stall shows: the window reaches up to now, not up to the last sample.
    const span = Math.max(now, last.t) - first.t
    return span > 0 ? ((last.bytes - first.bytes) * 1000) / span : 0
  }

  /** The text of the status (or periodic) line. */
  text(state: ProgressState, now = Date.now()): string {
    const rate = this.rate(now)
    const parts = [state.label]
    const unit = state.unit ?? 'file'
    const count = state.totalFiles !== undefined ? `${state.files}/${state.totalFiles}` : `${state.files}`
    parts.push(`${count} ${plural(state.totalFiles ?? state.files, unit)}`)
    if (state.bytes > 0 || state.totalBytes !== undefined) {
      parts.push(state.totalBytes !== undefined ? `${formatBytes(state.bytes)}/${formatBytes(state.totalBytes)}` : formatBytes(state.bytes))
      parts.push(`${formatBytes(Math.round(rate))}/s`)
      if (state.totalBytes !== undefined && rate > 0) parts.push(`ETA ${formatDuration(((state.totalBytes - state.bytes) / rate) * 1000)}`)
    }
    if (state.saved !== undefined) parts.push(`${formatBytes(state.saved)} already there`)
    return parts.join(this.#mode === 'bar' ? ' │ ' : ', ')
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#timer)
    live.delete(this)
    if (this.#mode === 'bar') clearStatus()
  }

  #draw(): void {
    const state = this.#state
    if (!state || this.#stopped) return
    const now = Date.now()
    this.#lastDraw = now
    if (this.#mode === 'lines') {
      printAbove(`plakar: ${this.text(state, now)}`)
      return
    }
    const total = state.totalBytes ?? 0
    const text = this.text(state, now)
    // The bar goes first when the terminal is too narrow for both.
    const room = (process.stderr.columns ?? 80) - 1 - [...text].length
    const bar = total > 0 && room > BAR_WIDTH ? `${renderBar(Math.min(state.bytes, total) / total)} ` : ''
    showStatus(`${bar}${text}`)
  }
}

function renderBar(fraction: number): string {
  const filled = Math.round(fraction * BAR_WIDTH)
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`
}

const live = new Set<ProgressDisplay>()

/** Stops every progress display and restores the terminal: on errors, interruptions and exit. */
export function stopAllProgress(): void {
  for (const display of live) display.stop()
  clearStatus()
}

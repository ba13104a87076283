import cliProgress from 'cli-progress'
import {formatBytes, formatDuration} from './output.js'

export interface ProgressState {
  label: string
  files: number
  totalFiles?: number
  bytes: number
  totalBytes?: number
  /** What `files` counts (default "files"). */
  unit?: string
}

/**
 * A one-line progress display on stderr (cli-progress): files, bytes, rate and ETA. Shown only
 * on a terminal and without --quiet or --json; otherwise every call is a no-op.
 */
export class ProgressDisplay {
  readonly #bar?: cliProgress.SingleBar
  readonly #started = Date.now()
  #last = 0

  constructor(enabled: boolean) {
    if (!enabled) return
    this.#bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: (options, params, payload: {text: string}) => {
          const width = options.barsize ?? 20
          const filled = Math.round(params.progress * width)
          const bar = params.total > 0 ? `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ` : ''
          return `${bar}${payload.text}`
        },
        hideCursor: true,
        clearOnComplete: true,
        barsize: 20,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    )
    this.#bar.start(0, 0, {text: ''})
  }

  update(state: ProgressState): void {
    if (!this.#bar) return
    const now = Date.now()
    if (now - this.#last < 100) return
    this.#last = now
    const elapsed = (now - this.#started) / 1000
    const rate = elapsed > 0 ? state.bytes / elapsed : 0
    const parts = [state.label]
    const unit = state.unit ?? 'files'
    parts.push(state.totalFiles !== undefined ? `${state.files}/${state.totalFiles} ${unit}` : `${state.files} ${unit}`)
    if (state.bytes > 0 || state.totalBytes !== undefined) {
      parts.push(state.totalBytes !== undefined ? `${formatBytes(state.bytes)}/${formatBytes(state.totalBytes)}` : formatBytes(state.bytes))
      parts.push(`${formatBytes(rate)}/s`)
      if (state.totalBytes !== undefined && rate > 0) {
        parts.push(`ETA ${formatDuration(((state.totalBytes - state.bytes) / rate) * 1000)}`)
      }
    }
    const total = state.totalBytes ?? 0
    this.#bar.setTotal(total)
    this.#bar.update(Math.min(state.bytes, total), {text: parts.join(' │ ')})
  }

  stop(): void {
    this.#bar?.stop()
  }
}

import type {Logger} from '@plakar/sdk'
import {printAbove} from './status-line.js'

/** Human sizes in binary units: 1.5 KiB, 3.2 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/** "file" or "files" for a count: 1 file, 0 files, 2 files (English nouns plakar uses). */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return n === 1 ? singular : pluralForm
}

/** "1 file", "3 files". */
export function count(n: number, singular: string, pluralForm?: string): string {
  return `${n} ${plural(n, singular, pluralForm)}`
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?'
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export function formatMode(type: string, mode: number | undefined): string {
  const t = type === 'directory' ? 'd' : type === 'symlink' ? 'l' : type === 'file' ? '-' : type === 'pipe' ? 'p' : type === 'socket' ? 's' : type === 'device' ? 'c' : '?'
  const m = mode ?? 0
  const rwx = (bits: number) => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`
  return t + rwx(m >> 6) + rwx(m >> 3) + rwx(m)
}

/** Messages for the user go to stderr, one line each; stdout is for results. */
export function stderrLogger(options: {debug: boolean; json: boolean}): Logger {
  const write = (level: string, message: string) => {
    const line = options.json ? JSON.stringify({level, message}) : `plakar: ${level === 'info' ? '' : `${level}: `}${message}`
    printAbove(line)
  }
  return {
    debug: (message) => options.debug && write('debug', message),
    info: (message) => write('info', message),
    warn: (message) => write('warning', message),
  }
}

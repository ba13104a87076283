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

/**
 * A name or path as text output shows it: control characters (a newline, a tab, an escape
 * sequence that would drive the terminal) as C escapes (`\n`, `\t`, `\x1b`) and a backslash as
 * `\\`, so one entry is always one line and what is printed cannot be mistaken for another
 * name. --json prints names exactly.
 */
export function escapeName(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\u0000-\u001f\u007f-\u009f\\]/.test(name)) return name
  const named: Record<string, string> = {'\n': '\\n', '\t': '\\t', '\r': '\\r', '\\': '\\\\'}
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** A time as people read it: local (or UTC with `utc`), to the second, "2026-11-25 15:43:32". */
export function formatTime(ms: number, utc = false): string {
  const d = new Date(ms)
  if (utc) return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** Rows as aligned columns (two spaces apart), the last column left ragged; right-aligned where asked. */
export function columns(rows: string[][], right: Set<number> = new Set()): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)))
  return rows.map((row) =>
    row
      .map((cell, i) => {
        if (i === row.length - 1) return cell
        const pad = ' '.repeat(widths[i] - [...cell].length)
        return right.has(i) ? pad + cell : cell + pad
      })
      .join('  ')
      .trimEnd(),
  )
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

/**
 * The one status line at the bottom of a terminal (the progress bar) and the lines printed
 * above it. Every message to stderr goes through {@link printAbove}: it clears the status line,
 * prints the message on its own line, and draws the status line again, so a warning is never
 * overwritten by the next redraw.
 */
const CLEAR = '\r\u001b[2K'
const HIDE_CURSOR = '\u001b[?25l'
const SHOW_CURSOR = '\u001b[?25h'

let current: string | undefined
let cursorHidden = false

function stream(): NodeJS.WriteStream {
  return process.stderr
}

/** Draws (or replaces) the status line. Only for a terminal. */
export function showStatus(text: string): void {
  const out = stream()
  if (!cursorHidden) {
    out.write(HIDE_CURSOR)
    cursorHidden = true
  }
  current = fit(text, out.columns)
  out.write(`${CLEAR}${current}`)
}

/** Removes the status line and gives the cursor back. Safe to call at any time, repeatedly. */
export function clearStatus(): void {
  const out = stream()
  if (current !== undefined) out.write(CLEAR)
  if (cursorHidden) out.write(SHOW_CURSOR)
  current = undefined
  cursorHidden = false
}

/** Prints a whole line on stderr above the status line (if one is shown). */
export function printAbove(line: string): void {
  const out = stream()
  if (current === undefined) {
    out.write(`${line}\n`)
    return
  }
  out.write(`${CLEAR}${line}\n${current}`)
}

/** A status line longer than the terminal wraps, and then CLEAR erases only its last row. */
function fit(text: string, columns: number | undefined): string {
  const width = columns && columns > 1 ? columns - 1 : 79
  const chars = [...text]
  return chars.length <= width ? text : `${chars.slice(0, width - 1).join('')}…`
}

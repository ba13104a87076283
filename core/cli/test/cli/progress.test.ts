import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'
import {ProgressDisplay, stopAllProgress} from '../../src/cli/progress.js'
import {clearStatus, printAbove, showStatus} from '../../src/cli/status-line.js'

/**
 * What a terminal shows after these bytes: "\n" commits a line, "\r" + erase-line starts the
 * current line over, cursor show/hide escapes draw nothing.
 */
function screen(bytes: string): {lines: string[]; bottom: string} {
  const lines: string[] = []
  let current = ''
  // eslint-disable-next-line no-control-regex
  for (const token of bytes.split(/(\r\u001b\[2K|\n|\u001b\[\?25[lh])/)) {
    if (token === '\n') {
      lines.push(current)
      current = ''
    } else if (token === '\r\u001b[2K') current = ''
    else if (!token.startsWith('\u001b')) current += token
  }
  return {lines, bottom: current}
}

describe('status line and log lines', () => {
  let written = ''
  beforeEach(() => {
    written = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written += String(chunk)
      return true
    })
  })
  afterEach(() => {
    clearStatus()
    vi.restoreAllMocks()
  })

  it('a warning printed while the bar shows stays on the screen, the bar below it', () => {
    showStatus('backup │ 1/3 files')
    printAbove('plakar: warning: a.txt: permission denied')
    showStatus('backup │ 2/3 files')
    printAbove('plakar: warning: b.txt: permission denied')
    showStatus('backup │ 3/3 files')
    const s = screen(written)
    expect(s.lines).toEqual(['plakar: warning: a.txt: permission denied', 'plakar: warning: b.txt: permission denied'])
    expect(s.bottom).toBe('backup │ 3/3 files')
    clearStatus()
    expect(screen(written).bottom).toBe('')
    // The cursor is hidden while the bar shows and given back after.
    expect(written.lastIndexOf('\u001b[?25h')).toBeGreaterThan(written.lastIndexOf('\u001b[?25l'))
  })

  it('the progress bar never draws again once every display is stopped', () => {
    const display = new ProgressDisplay('bar', {interval: 1})
    display.update({label: 'backup', files: 1, bytes: 10})
    expect(screen(written).bottom).toContain('backup │ 1 file')
    stopAllProgress()
    expect(screen(written).bottom).toBe('')
    written = ''
    display.update({label: 'backup', files: 2, bytes: 20})
    expect(written).toBe('')
  })
})

describe('rate', () => {
  it('is the speed over the last seconds, not the average since the start', () => {
    vi.useFakeTimers({now: 0})
    try {
      const display = new ProgressDisplay('lines', {interval: 1_000_000})
      // 10 s at 100 MB/s, then 10 s at 1 MB/s.
      for (let t = 0; t <= 10_000; t += 500) {
        vi.setSystemTime(t)
        display.update({label: 'backup', files: 0, bytes: t * 100_000})
      }
      for (let t = 10_500; t <= 20_000; t += 500) {
        vi.setSystemTime(t)
        display.update({label: 'backup', files: 0, bytes: 1e9 + (t - 10_000) * 1000})
      }
      expect(display.rate(20_000)).toBeCloseTo(1e6, -4)
      // A stall: no update for five seconds, and the rate falls.
      expect(display.rate(25_000)).toBeLessThan(1e6)
      display.stop()
    } finally {
      vi.useRealTimers()
    }
  })

  it('says "1 file", "2 files"', () => {
    const display = new ProgressDisplay('off')
    expect(display.text({label: 'backup', files: 1, bytes: 0})).toBe('backup, 1 file')
    expect(display.text({label: 'backup', files: 2, totalFiles: 3, bytes: 0})).toBe('backup, 2/3 files')
  })
})

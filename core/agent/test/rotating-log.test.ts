import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {RotatingLog} from '../src/rotating-log.js'

const dirs: string[] = []
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'plakar-log-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

describe('RotatingLog', () => {
  it('rotates by size, keeps KEEP generations and drops the oldest', () => {
    const dir = scratch()
    const log = new RotatingLog(join(dir, 'agent.log'), {maxBytes: 200, keep: 2})
    for (let i = 0; i < 40; i++) log.write('info', `line ${String(i).padStart(2, '0')} ${'x'.repeat(20)}`)
    expect(readdirSync(dir).sort()).toEqual(['agent.log', 'agent.log.1', 'agent.log.2'])
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(200)
    // Newest in agent.log, older lines in .1 then .2, and nothing out of order in between.
    const numbers = ['agent.log.2', 'agent.log.1', 'agent.log']
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
      .map((l) => Number(/line (\d+)/.exec(l)![1]))
    expect(numbers.at(-1)).toBe(39)
    expect(numbers).toEqual(numbers.slice().sort((a, b) => a - b))
    expect(numbers[0]).toBeGreaterThan(0)
  })

  it('counts bytes, not characters, and one line never splits across files', () => {
    const dir = scratch()
    const log = new RotatingLog(join(dir, 'agent.log'), {maxBytes: 120, keep: 3})
    for (let i = 0; i < 10; i++) log.write('warn', `é€ ${'ü'.repeat(10)} ${i}`)
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8')
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(120)
      expect(text.endsWith('\n')).toBe(true)
    }
  })

  it('continues the size of a log left by a previous agent, and folds newlines into one line', () => {
    const dir = scratch()
    const path = join(dir, 'agent.log')
    writeFileSync(path, 'y'.repeat(90) + '\n')
    const log = new RotatingLog(path, {maxBytes: 100, keep: 1})
    log.write('error', 'first\nsecond')
    expect(readFileSync(join(dir, 'agent.log.1'), 'utf8')).toBe('y'.repeat(90) + '\n')
    expect(readFileSync(path, 'utf8')).toMatch(/^\S+ error first ⏎ second\n$/)
  })
})

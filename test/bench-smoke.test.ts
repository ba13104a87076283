/**
 * The benchmark harness (test/bench/run.mjs, `npm run bench`) is not a test: this only checks that
 * it runs end to end on its tiny corpora (a few MB, one round, plakar and restic) and that the
 * report it writes has every row of the five default corpora (the opt-in "million" one is left out
 * to keep this fast), with a value for both tools and no failed run.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
// @ts-expect-error plain ESM module: the bench harness is JavaScript, run by node without a build
import {CORPUS_TITLES, MEASURES} from './bench/report.mjs'

const ROOT = join(import.meta.dirname, '..')
const CORPORA = ['versions', 'mixed', 'source-tree', 'many-small', 'big-random']

interface Measure {
  corpus: string
  label: string
  target?: number
}
interface RunRecord {
  corpus: string
  tool: string
  op: string
  ok: boolean
  wall: number
  rssKiB?: number
}

function run(args: string[]): Promise<{code: number | null; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'test/bench/run.mjs'), ...args], {cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({code, stderr}))
  })
}

describe('benchmark harness (tiny corpora)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plakar-bench-smoke-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('runs plakar and restic on every corpus and reports every row', {timeout: 240_000}, async () => {
    const out = join(dir, 'report.md')
    const {code, stderr} = await run([
      '--profile', 'tiny', '--rounds', '1', '--tools', 'plakar,restic', '--corpora', CORPORA.join(','),
      '--dir', dir, '--out', out, '--no-drop-caches', '--no-install',
    ])
    expect(code, stderr.slice(-2000)).toBe(0)

    const raw = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as {records: RunRecord[]}
    const failed = raw.records.filter((r) => !r.ok)
    expect(failed, JSON.stringify(failed)).toEqual([])
    for (const r of raw.records) {
      expect(r.wall).toBeGreaterThan(0)
      expect(r.rssKiB).toBeGreaterThan(0)
    }

    const report = readFileSync(out, 'utf8')
    expect(report).toMatch(/`nproc` = \d+/)
    expect(report).toMatch(/load average \(1 min\) at start: [\d.]+/)
    expect(report).toMatch(/restic \d+\.\d+/)
    const sections = report.split(/^### /m).slice(1)
    for (const corpus of CORPORA) {
      const section = sections.find((s) => s.startsWith(`${corpus} `))
      expect(section, `no section for ${corpus}`).toBeDefined()
      const measures = (MEASURES as Measure[]).filter((m) => m.corpus === corpus)
      expect(measures.length).toBeGreaterThan(0)
      for (const m of measures) {
        const line = section!.split('\n').find((l) => l.startsWith(`| ${m.label} |`))
        expect(line, `${corpus}: no row "${m.label}"`).toBeDefined()
        const [plakar, restic, ratio, target, verdict] = line!.split('|').slice(2, 7).map((c) => c.trim())
        expect(plakar, `${corpus} / ${m.label}: plakar`).toMatch(/^-?[\d.]+ (s|kB|MB|GB)$/)
        expect(restic, `${corpus} / ${m.label}: restic`).toMatch(/^-?[\d.]+ (s|kB|MB|GB)$/)
        expect(ratio).toMatch(/^-?[\d.]+$/)
        if (m.target !== undefined) {
          expect(target).toBe(`≤ ${m.target.toFixed(1)}`)
          expect(verdict).toMatch(/^(met|\*\*missed\*\*)/)
        }
      }
    }
    expect(Object.keys(CORPUS_TITLES)).toEqual(expect.arrayContaining(CORPORA))
  })
})

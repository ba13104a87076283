import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {renderMarkdown} from '../../core/dist/cli/help.js'
import {Plakar, ROOT, scratch} from '../support/cli.js'

/** `plakar help CMD`, `plakar CMD --help` and `plakar --help` show the manual pages, offline. */
const page = (name: string) => readFileSync(join(ROOT, 'docs', 'commands', `${name}.md`), 'utf8')

/** Words of a page's OPTIONS bullets: each flag must appear in the rendered help. */
const flagsOf = (text: string) => [...text.matchAll(/^- `(--[a-z0-9-]+)/gm)].map((m) => m[1])

describe('plakar help', () => {
  const s = scratch()
  const plakar = new Plakar(s.dir)
  afterAll(() => s.cleanup())

  it.each([
    [['help', 'backup']],
    [['backup', '--help']],
  ])('plakar %s prints the backup page and exits 0', async (args) => {
    const r = await plakar.ok(args)
    const out = String(r.stdout)
    expect(out).toMatch(/^PLAKAR-BACKUP\(1\)/)
    for (const heading of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXAMPLES', 'EXIT STATUS', 'SEE ALSO']) expect(out).toContain(`\n${heading}\n`)
    for (const flag of flagsOf(page('backup'))) expect(out).toContain(flag)
    expect(out).toContain('plakar backup --json --quiet /srv/data')
    // Not a terminal: no escape sequences, no Markdown markup left.
    expect(out).not.toContain('\u001b[')
    expect(out).not.toMatch(/^#+ |```/m)
  })

  it('prints the same page for "help CMD" and "CMD --help"', async () => {
    const [a, b] = await Promise.all([plakar.ok(['help', 'restore']), plakar.ok(['restore', '--help'])])
    expect(String(a.stdout)).toBe(String(b.stdout))
  })

  it.each([[['--help']], [['help']]])('plakar %s prints plakar(1)', async (args) => {
    const r = await plakar.ok(args)
    const out = String(r.stdout)
    expect(out).toMatch(/^PLAKAR\(1\)/)
    for (const flag of flagsOf(page('plakar'))) expect(out).toContain(flag)
    for (const code of ['65', '66', '77', '78']) expect(out).toMatch(new RegExp(`^\\s+${code}\\s`, 'm'))
  })

  it('needs no repository and no passphrase', async () => {
    const r = await plakar.ok(['help', 'check'], {env: {PLAKAR_PASSPHRASE: undefined, PLAKAR_REPOSITORY: join(s.dir, 'nowhere')}})
    expect(String(r.stdout)).toMatch(/^PLAKAR-CHECK\(1\)/)
  })

  it('refuses an unknown command with exit 2', async () => {
    const r = await plakar.run(['help', 'no-such-command'])
    expect(r.exitCode).toBe(2)
  })
})

describe('the terminal rendering', () => {
  const text = page('backup')

  it('wraps prose to the width and keeps examples verbatim', () => {
    const out = renderMarkdown(text, {color: false, width: 60})
    const examples = text.split('## EXAMPLES')[1].split('```sh\n')[1].split('```')[0].trim().split('\n')
    for (const line of examples) expect(out).toContain(`           ${line}`)
    const fenced = new Set([...text.matchAll(/^```\w*\n([\s\S]*?)^```/gm)].flatMap((m) => m[1].split('\n').map((l) => l.trim())))
    const prose = out.split('\n').filter((l) => !fenced.has(l.trim()))
    for (const line of prose) expect([...line].length, line).toBeLessThanOrEqual(60)
  })

  it('styles with ANSI only when asked, and the text is the same', () => {
    const plain = renderMarkdown(text, {color: false, width: 80})
    const styled = renderMarkdown(text, {color: true, width: 80})
    expect(plain).not.toContain('\u001b[')
    expect(styled).toContain('\u001b[1mOPTIONS\u001b[22m')
    expect(styled.replace(/\u001b\[[0-9;]*m/g, '')).toBe(plain)
  })

  it('renders an option as its term and an indented description', () => {
    const out = renderMarkdown('## OPTIONS\n\n- `--tag TAG` — tag the snapshot\n- `--option KEY=VALUE`, `-o` — an option\n', {color: false, width: 80})
    expect(out.split('\n')).toEqual([
      'OPTIONS',
      '',
      '       --tag TAG',
      '           tag the snapshot',
      '',
      '       --option KEY=VALUE, -o',
      '           an option',
    ])
  })
})

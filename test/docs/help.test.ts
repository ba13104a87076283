import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {renderMarkdown} from '../../core/cli/dist/cli/help.js'
import {Plakar, ROOT, scratch} from '../support/cli.js'
import {Terminal} from '../support/terminal.js'

/**
 * `plakar help CMD` shows the manual page (offline, through a pager on a terminal); `CMD -h`,
 * `--help` and bare `plakar` print short usage screens; typos get suggestions; usage errors are
 * whole and one line (JSON under --json).
 */
const page = (name: string) => readFileSync(join(ROOT, 'docs', 'commands', `${name}.md`), 'utf8')

/** Words of a page's OPTIONS bullets: each flag must appear in the rendered help. */
const flagsOf = (text: string) => [...text.matchAll(/^- `(--[a-z0-9-]+)/gm)].map((m) => m[1])

describe('plakar help', () => {
  const s = scratch()
  const plakar = new Plakar(s.dir)
  afterAll(() => s.cleanup())

  it('plakar help backup prints the whole backup page and exits 0', async () => {
    const r = await plakar.ok(['help', 'backup'])
    const out = String(r.stdout)
    expect(out).toMatch(/^PLAKAR-BACKUP\(1\)/)
    for (const heading of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXAMPLES', 'EXIT STATUS', 'SEE ALSO']) expect(out).toContain(`\n${heading}\n`)
    for (const flag of flagsOf(page('backup'))) expect(out).toContain(flag)
    expect(out).toContain('plakar backup --json --quiet /srv/data')
    // Not a terminal: no escape sequences, no Markdown markup left.
    expect(out).not.toContain('\u001b[')
    expect(out).not.toMatch(/^#+ |```/m)
  })

  it.each([[['backup', '--help']], [['backup', '-h']], [['at', '/nowhere', 'backup', '-h']]])('plakar %s prints a short usage screen', async (args) => {
    const r = await plakar.ok(args)
    const out = String(r.stdout)
    expect(out).toMatch(/^plakar backup — take a new snapshot\n/)
    expect(out).toContain('\nUsage:\n')
    // Every flag of the page, written as the page writes it ("--tag TAG").
    for (const m of page('backup').matchAll(/^- `(--[a-z0-9-]+[^`]*)`/gm)) expect(out).toContain(m[1])
    expect(out).toContain('Full manual: plakar help backup')
    expect(out.split('\n').length).toBeLessThan(40)
  })

  it.each([[[]], [['--help']], [['-h']]])('plakar %s prints a short overview of every command', async (args) => {
    const r = await plakar.ok(args)
    const out = String(r.stdout)
    expect(out).toMatch(/^plakar — /)
    expect(out.split('\n').length).toBeLessThan(50)
    for (const command of ['create', 'backup', 'ls', 'restore', 'check', 'help', 'store add|ls|rm|show']) expect(out).toMatch(new RegExp(`^  ${command.replaceAll('|', '\\|')}\\s`, 'm'))
    expect(out).toContain('plakar help COMMAND')
  })

  it('plakar help prints plakar(1)', async () => {
    const r = await plakar.ok(['help'])
    const out = String(r.stdout)
    expect(out).toMatch(/^PLAKAR\(1\)/)
    for (const flag of flagsOf(page('plakar'))) expect(out).toContain(flag)
    for (const code of ['65', '66', '77', '78', '130']) expect(out).toMatch(new RegExp(`^\\s+${code}\\s`, 'm'))
  })

  it('needs no repository and no passphrase', async () => {
    const r = await plakar.ok(['help', 'check'], {env: {PLAKAR_PASSPHRASE: undefined, PLAKAR_REPOSITORY: join(s.dir, 'nowhere')}})
    expect(String(r.stdout)).toMatch(/^PLAKAR-CHECK\(1\)/)
  })

  it('on a terminal, the manual goes through the pager', async () => {
    // A pager that marks every line it shows: the page reached it, whole.
    const term = new Terminal(plakar, ['help', 'backup'], {env: {PLAKAR_PAGER: "sed 's/^/PAGED: /'"}})
    const {code} = await term.exited
    expect(code, term.output).toBe(0)
    expect(term.output).toMatch(/PAGED: PLAKAR-BACKUP\(1\)/)
    expect(term.output).toMatch(/PAGED: SEE ALSO/)
  })

  it('suggests the command a typo meant, exit 2, and JSON under --json', async () => {
    const r = await plakar.run(['bakup'])
    expect(r.exitCode).toBe(2)
    expect(String(r.stderr)).toBe('plakar: "bakup" is not a plakar command: did you mean "backup"?\n')
    const j = await plakar.run(['bakup', '--json'])
    expect(j.exitCode).toBe(2)
    expect(JSON.parse(String(j.stderr))).toEqual({error: '"bakup" is not a plakar command: did you mean "backup"?', exitCode: 2})
    const topic = await plakar.run(['store', 'lss'])
    expect(String(topic.stderr)).toContain('did you mean "store ls"?')
    const none = await plakar.run(['xyzzy'])
    expect(none.exitCode).toBe(2)
    expect(String(none.stderr)).toContain('"plakar --help" lists the commands')
  })

  it('refuses an unknown command with exit 2, with a suggestion', async () => {
    const r = await plakar.run(['help', 'restor'])
    expect(r.exitCode).toBe(2)
    expect(String(r.stderr)).toContain('did you mean "restore"?')
  })

  it('a missing argument names it and prints the usage, on one line (JSON under --json)', async () => {
    const r = await plakar.run(['cat'])
    expect(r.exitCode).toBe(2)
    expect(String(r.stderr)).toMatch(/^plakar: missing argument \S+ .*; usage: plakar .*cat .*SNAPSHOT:PATH.*\n$/)
    expect(String(r.stderr).trim().split('\n')).toHaveLength(1)
    const j = await plakar.run(['cat', '--json'])
    expect(j.exitCode).toBe(2)
    const parsed = JSON.parse(String(j.stderr)) as {error: string; exitCode: number}
    expect(parsed.exitCode).toBe(2)
    expect(parsed.error).toMatch(/^missing argument .*usage: plakar/)
    const flag = await plakar.run(['restore', 'abc'])
    expect(String(flag.stderr)).toMatch(/^plakar: missing required flag --to; usage: .*restore --to/)
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

import {Config} from '@oclif/core'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {pathToFileURL} from 'node:url'
import {beforeAll, describe, expect, it} from 'vitest'
import {ROOT} from '../support/cli.js'
import {
  bullets,
  checkExample,
  checkFlags,
  documentedFlags,
  exampleLines,
  exitCodes,
  pageName,
  parsePage,
  references,
  section,
  type CommandSpec,
  type FlagSpec,
  type Page,
} from './pages.js'

/**
 * Documentation as code: every command of the CLI has a manual page in docs/commands, and the
 * page agrees with the code: its flags, examples, summary and exit codes. Commands come from
 * the built oclif.manifest.json (the root package's commands; manifest.test.ts checks that it
 * is fresh), `help` among them; @oclif/plugin-* commands are
 * documented by oclif itself.
 */
const DOCS = join(ROOT, 'docs', 'commands')

interface Manifest {
  version: string
  commands: Record<string, CommandSpec & {pluginName?: string}>
}

let manifest: Manifest
/** Commands that must have a page: the root package's (help is one of them). */
let documented: CommandSpec[]
/** Every command an example may run (plugins' too). */
let runnable: Map<string, CommandSpec>
let globals: FlagSpec[]
let pages: Map<string, Page>
let root: Page

function specOf(command: {id: string; summary?: string; examples?: unknown; hidden?: boolean; flags?: Record<string, unknown>}): CommandSpec {
  const flags: Record<string, FlagSpec> = {}
  for (const [name, raw] of Object.entries(command.flags ?? {})) {
    const f = raw as Partial<FlagSpec>
    flags[name] = {name, type: f.type === 'boolean' ? 'boolean' : 'option', char: f.char, hidden: f.hidden, helpGroup: f.helpGroup}
  }
  return {id: command.id, summary: command.summary, examples: command.examples as CommandSpec['examples'], hidden: command.hidden, flags}
}

function loadPage(name: string): Page | undefined {
  const file = join(DOCS, `${name}.md`)
  return existsSync(file) ? parsePage(name, readFileSync(file, 'utf8')) : undefined
}

beforeAll(async () => {
  manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest
  const config = await Config.load(ROOT)
  runnable = new Map()
  for (const command of config.commands) runnable.set(command.id, specOf(command as never))
  const own = Object.values(manifest.commands).map((c) => specOf(c))
  for (const command of own) runnable.set(command.id, command)
  documented = own.filter((c) => !c.hidden)
  globals = Object.values(own[0]?.flags ?? {}).filter((f) => f.helpGroup === 'GLOBAL')
  pages = new Map()
  for (const command of documented) {
    const page = loadPage(pageName(command.id))
    if (page) pages.set(command.id, page)
  }
  root = loadPage('plakar')!
})

const problemsOf = (fn: (command: CommandSpec, page: Page) => string[]) =>
  documented.flatMap((command) => (pages.has(command.id) ? fn(command, pages.get(command.id)!) : []))

describe('manual pages (docs/commands)', () => {
  it('the manifest lists the commands, and help is among them', () => {
    expect(documented.length).toBeGreaterThan(5)
    expect(documented.map((c) => c.id)).toContain('help')
    expect(globals.map((f) => f.name)).toContain('json')
  })

  it('every command has a page, and every page a command', () => {
    const missing = documented.filter((c) => !pages.has(c.id)).map((c) => `no page docs/commands/${pageName(c.id)}.md for "${c.id.replaceAll(':', ' ')}"`)
    const expected = new Set(['plakar', ...documented.map((c) => pageName(c.id))])
    const orphans = readdirSync(DOCS)
      .filter((f) => f.endsWith('.md') && !expected.has(f.slice(0, -3)))
      .map((f) => `docs/commands/${f} documents no command`)
    expect([...missing, ...orphans]).toEqual([])
  })

  it('every page has the fixed structure', () => {
    const problems = [...(root ? root.problems : ['no root page docs/commands/plakar.md']), ...problemsOf((_c, page) => page.problems)]
    expect(problems).toEqual([])
  })

  it('NAME and SYNOPSIS name the command, with the summary from the code', () => {
    const problems = problemsOf((command, page) => {
      const out: string[] = []
      const name = section(page, 'NAME').trim()
      const m = /^plakar-(\S+) — (.+)$/.exec(name)
      if (!m || m[1] !== page.name) out.push(`${page.name}.md: NAME must read "plakar-${page.name} — summary"`)
      else if (command.summary && m[2] !== command.summary) {
        out.push(`${page.name}.md: NAME says "${m[2]}" but the command's summary is "${command.summary}"`)
      }
      const words = command.id.replaceAll(':', ' ')
      if (!new RegExp(`(^|\\n)\\s*plakar .*\\b${words}\\b`).test(section(page, 'SYNOPSIS'))) {
        out.push(`${page.name}.md: SYNOPSIS does not show "plakar … ${words}"`)
      }
      return out
    })
    expect(problems).toEqual([])
  })

  it('OPTIONS documents exactly the flags of each command (global flags in plakar.md only)', () => {
    const problems = problemsOf((command, page) => {
      const {flags, problems: malformed} = documentedFlags(page)
      return [...malformed, ...checkFlags(page, flags, Object.values(command.flags), {root: false})]
    })
    expect(problems).toEqual([])
  })

  it('plakar.md documents every global flag', () => {
    const {flags, problems} = documentedFlags(root)
    expect([...problems, ...checkFlags(root, flags, globals, {root: true})]).toEqual([])
  })

  it('EXAMPLES run existing commands with existing flags, and include the examples in the code', () => {
    const problems = problemsOf((command, page) => {
      const {lines, problems: out} = exampleLines(page)
      for (const line of lines) out.push(...checkExample(`${page.name}.md`, line, runnable))
      for (const example of command.examples ?? []) {
        const text = (typeof example === 'string' ? example : example.command).replaceAll('<%= config.bin %>', 'plakar').trim()
        if (!lines.includes(text)) out.push(`${page.name}.md: the code's example "${text}" is not in EXAMPLES`)
        out.push(...checkExample(`the code of "${command.id}"`, text, runnable))
      }
      return out
    })
    const {lines, problems: rootProblems} = exampleLines(root)
    for (const line of lines) rootProblems.push(...checkExample('plakar.md', line, runnable))
    expect([...problems, ...rootProblems]).toEqual([])
  })

  it('exit codes: plakar.md lists every code the CLI uses, pages only codes plakar.md explains', async () => {
    const {ExitCode} = (await import(pathToFileURL(join(ROOT, 'core', 'sdk', 'dist', 'errors.js')).href)) as {ExitCode: Record<string, number>}
    const {codes: known, problems} = exitCodes(root)
    for (const [name, code] of Object.entries(ExitCode)) {
      if (!known.includes(code)) problems.push(`plakar.md: EXIT STATUS does not explain ${code} (${name})`)
    }
    problems.push(
      ...problemsOf((_command, page) => {
        const {codes, problems: out} = exitCodes(page)
        for (const code of codes) if (!known.includes(code)) out.push(`${page.name}.md: exit code ${code} is not explained in plakar.md`)
        return out
      }),
    )
    expect(problems).toEqual([])
  })

  it('plakar.md lists every command and every PLAKAR_ variable the core reads', () => {
    const problems: string[] = []
    // "- `a`, `b c` — text": every code span before the dash names a command.
    const listed = new Set(
      bullets(section(root, 'DESCRIPTION')).flatMap((item) => [.../^((?:`[^`]+`(?:, )?)+) — /.exec(item)?.[1].matchAll(/`([^`]+)`/g) ?? []].map((m) => m[1])),
    )
    for (const command of documented) {
      const words = command.id.replaceAll(':', ' ')
      if (!listed.has(words)) problems.push(`plakar.md: the command list lacks "${words}"`)
    }
    const environment = section(root, 'ENVIRONMENT')
    const variables = new Set<string>()
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, {withFileTypes: true})) {
        const path = join(dir, entry.name)
        if (entry.isDirectory() && entry.name !== 'testing') walk(path)
        else if (entry.name.endsWith('.js')) for (const m of readFileSync(path, 'utf8').matchAll(/\bPLAKAR_[A-Z0-9_]+/g)) variables.add(`${m[0]} (${relative(ROOT, path)})`)
      }
    }
    for (const pkg of ['sdk', 'engine', 'agent', 'cli']) walk(join(ROOT, 'core', pkg, 'dist'))
    for (const entry of variables) {
      const name = entry.split(' ')[0]
      if (!environment.includes(`\`${name}\``)) problems.push(`plakar.md: ENVIRONMENT does not document ${entry}`)
    }
    expect(problems).toEqual([])
  })

  it('every plakar-NAME(1) reference names an existing page', () => {
    const problems: string[] = []
    const all = [root, ...pages.values()]
    for (const page of all) {
      const text = page.sections.map((s) => s.body).join('\n')
      for (const ref of references(text)) {
        if (!existsSync(join(DOCS, `${ref}.md`))) problems.push(`${page.name}.md: refers to ${ref === 'plakar' ? 'plakar' : `plakar-${ref}`}(1), which has no page`)
      }
      if (page !== root && !references(section(page, 'SEE ALSO')).includes('plakar')) problems.push(`${page.name}.md: SEE ALSO must refer to plakar(1)`)
    }
    expect(problems).toEqual([])
  })
})

/** The checks themselves must be able to fail: each is fed a page that is wrong in one way. */
describe('the manual-page checks', () => {
  const command: CommandSpec = {
    id: 'backup',
    summary: 'take a new snapshot',
    flags: {
      tag: {name: 'tag', type: 'option'},
      option: {name: 'option', type: 'option', char: 'o'},
      check: {name: 'check', type: 'boolean'},
      json: {name: 'json', type: 'boolean', helpGroup: 'GLOBAL'},
      at: {name: 'at', type: 'option', hidden: true},
    },
  }
  const commands = new Map([['backup', command], ['help', {id: 'help', flags: {}}]])
  const page = (options: string, examples = 'plakar backup --tag x /etc') =>
    parsePage(
      'backup',
      `# plakar-backup(1)\n\n## NAME\n\nplakar-backup — take a new snapshot\n\n## SYNOPSIS\n\n\`\`\`\nplakar backup\n\`\`\`\n\n` +
        `## DESCRIPTION\n\nx\n\n## OPTIONS\n\n${options}\n\n## EXAMPLES\n\n\`\`\`sh\n${examples}\n\`\`\`\n\n## EXIT STATUS\n\n- \`0\` — ok\n\n## SEE ALSO\n\nplakar(1)\n`,
    )
  const flagProblems = (options: string) => {
    const p = page(options)
    const {flags, problems} = documentedFlags(p)
    return [...problems, ...checkFlags(p, flags, Object.values(command.flags), {root: false})]
  }
  const complete = '- `--tag TAG` — a tag\n- `--option KEY=VALUE`, `-o` — an option\n- `--check` — check'

  it('accepts a complete page', () => {
    expect(page(complete).problems).toEqual([])
    expect(flagProblems(complete)).toEqual([])
    expect(checkExample('x', 'plakar at /r -o a=b backup --tag x -o k=v --check --json src', commands)).toEqual([])
    expect(checkExample('x', 'PLAKAR_REPOSITORY=/r plakar --json backup "a b" | jq .', commands)).toEqual([])
  })

  it('finds an undocumented flag, an unknown flag, a wrong short form, a documented global flag', () => {
    expect(flagProblems('- `--tag TAG` — a tag\n- `--option KEY=VALUE`, `-o` — an option')).toEqual(['backup.md: --check is not documented in OPTIONS'])
    expect(flagProblems(`${complete}\n- \`--force\` — force`)).toEqual(['backup.md: OPTIONS documents --force, which the command does not have'])
    expect(flagProblems(`${complete}\n- \`--at LOC\` — hidden`)).toEqual(['backup.md: OPTIONS documents --at, which the command does not have'])
    expect(flagProblems('- `--tag TAG` — a tag\n- `--option KEY=VALUE` — an option\n- `--check` — check')).toHaveLength(1)
    expect(flagProblems('- `--tag` — a tag\n- `--option KEY=VALUE`, `-o` — an option\n- `--check X` — check')).toHaveLength(2)
    expect(flagProblems(`${complete}\n- \`--json\` — json`)).toEqual(['backup.md: --json is a global flag: document it in plakar.md only'])
    expect(flagProblems(`${complete}\n- --bad — not code`)).toHaveLength(1)
  })

  it('finds examples with an unknown command or flag', () => {
    expect(checkExample('x', 'plakar bakcup /etc', commands)).toHaveLength(1)
    expect(checkExample('x', 'plakar backup --tga x', commands)).toHaveLength(1)
    expect(checkExample('x', 'plakar backup -x', commands)).toHaveLength(1)
    expect(checkExample('x', 'plakar backup --at /r', commands)).toHaveLength(1)
    expect(checkExample('x', 'plakar --bogus backup', commands)).toHaveLength(1)
    expect(checkExample('x', 'plakar help bakcup', commands)).toHaveLength(1)
    expect(checkExample('x', 'rm -rf /', commands)).toHaveLength(1)
    // A flag's value is not taken for a flag.
    expect(checkExample('x', 'plakar backup --tag -weird- /etc', commands)).toEqual([])
  })

  it('finds a missing or misplaced section and a bad title', () => {
    const text = '# plakar-backup(1)\n\n## SYNOPSIS\n\n## NAME\n\n## DESCRIPTION\n\n## OPTIONS\n\n## EXAMPLES\n\n## SEE ALSO\n'
    expect(parsePage('backup', text).problems).toEqual([
      'backup.md: "## SYNOPSIS" is out of order (expected NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXAMPLES, EXIT STATUS, SEE ALSO)',
      'backup.md: no "## EXIT STATUS" section',
    ])
    expect(parsePage('backup', '# backup\n').problems[0]).toMatch(/first line/)
    expect(exampleLines(page(complete, '# only a comment')).problems).toEqual(['backup.md: EXAMPLES has no example'])
  })
})

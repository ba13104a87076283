/**
 * Reading and checking the manual pages of docs/commands against the commands themselves.
 * The page format is fixed (see docs/commands/plakar.md for the root page):
 *
 *   # plakar-<command>(1)
 *   ## NAME / ## SYNOPSIS / ## DESCRIPTION / ## OPTIONS / ## EXAMPLES / ## EXIT STATUS / ## SEE ALSO
 *
 * OPTIONS has one bullet per flag: "- `--flag VALUE`, `-f` — text"; EXAMPLES one ```sh block
 * with one `plakar …` invocation per line (comment lines start with "#"); EXIT STATUS one bullet
 * per code: "- `N` — text". Every function here returns problems as sentences rather than
 * throwing, so that one run names every disagreement at once.
 */

export const REQUIRED_SECTIONS = ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXAMPLES', 'EXIT STATUS', 'SEE ALSO'] as const

/** What the checks need to know about a command: the manifest's shape, reduced. */
export interface CommandSpec {
  id: string
  summary?: string
  examples?: (string | {command: string})[]
  hidden?: boolean
  flags: Record<string, FlagSpec>
}

export interface FlagSpec {
  name: string
  type: 'boolean' | 'option'
  char?: string
  hidden?: boolean
  helpGroup?: string
}

export interface Page {
  /** The file name without ".md": "backup", "store-add", "plakar". */
  name: string
  title?: string
  /** Level-2 sections in order, with their text (without the heading line). */
  sections: {name: string; body: string}[]
  problems: string[]
}

export function pageName(id: string): string {
  return id.replaceAll(':', '-')
}

export function parsePage(name: string, text: string): Page {
  const problems: string[] = []
  const lines = text.replace(/\r\n/g, '\n').split('\n')
  const first = lines.findIndex((l) => l.trim() !== '')
  const title = first >= 0 ? lines[first] : undefined
  const expectedTitle = name === 'plakar' ? '# plakar(1)' : `# plakar-${name}(1)`
  if (title !== expectedTitle) problems.push(`${name}.md: the first line must be "${expectedTitle}", not "${title ?? ''}"`)
  const sections: {name: string; body: string}[] = []
  let fenced = false
  for (const line of lines.slice(first + 1)) {
    if (line.startsWith('```')) fenced = !fenced
    const heading = fenced ? null : /^## (.+)$/.exec(line)
    if (heading) sections.push({name: heading[1].trim(), body: ''})
    else if (!fenced && /^# /.test(line)) problems.push(`${name}.md: a second level-1 heading "${line}"`)
    else if (sections.length > 0) sections.at(-1)!.body += `${line}\n`
  }
  let at = 0
  for (const required of REQUIRED_SECTIONS) {
    const index = sections.findIndex((s) => s.name === required)
    if (index < 0) problems.push(`${name}.md: no "## ${required}" section`)
    else if (index < at) problems.push(`${name}.md: "## ${required}" is out of order (expected ${REQUIRED_SECTIONS.join(', ')})`)
    else at = index
  }
  const names = sections.map((s) => s.name)
  for (const dup of names.filter((n, i) => names.indexOf(n) !== i)) problems.push(`${name}.md: "## ${dup}" appears twice`)
  return {name, title, sections, problems}
}

export function section(page: Page, name: string): string {
  return page.sections.find((s) => s.name === name)?.body ?? ''
}

/** Bullets of a section, each joined with its continuation lines; fenced blocks skipped. */
export function bullets(body: string): string[] {
  const items: string[] = []
  let fenced = false
  let current: string | undefined
  for (const line of body.split('\n')) {
    if (line.startsWith('```')) {
      fenced = !fenced
      current = undefined
      continue
    }
    if (fenced) continue
    if (line.startsWith('- ')) {
      current = line.slice(2)
      items.push(current)
    } else if (current !== undefined && /^\s+\S/.test(line)) {
      items[items.length - 1] = `${items.at(-1)} ${line.trim()}`
    } else current = undefined
  }
  return items
}

export interface DocumentedFlag {
  long: string
  short?: string
  value?: string
  text: string
}

const OPTION_TERM = /^`--([a-z0-9][a-z0-9-]*)(?: ([A-Z][A-Z0-9_]*(?:[:=.][A-Z0-9_]+)*))?`(?:, `-([a-zA-Z0-9])`)? — (\S.*)$/

/** The flags an OPTIONS section documents; malformed bullets are problems. */
export function documentedFlags(page: Page): {flags: DocumentedFlag[]; problems: string[]} {
  const flags: DocumentedFlag[] = []
  const problems: string[] = []
  for (const item of bullets(section(page, 'OPTIONS'))) {
    const m = OPTION_TERM.exec(item)
    if (!m) {
      problems.push(`${page.name}.md: OPTIONS bullet is not "\`--flag VALUE\`, \`-f\` — text": "${item.slice(0, 60)}"`)
      continue
    }
    flags.push({long: m[1], value: m[2], short: m[3], text: m[4]})
  }
  const seen = new Set<string>()
  for (const f of flags) {
    if (seen.has(f.long)) problems.push(`${page.name}.md: --${f.long} is documented twice`)
    seen.add(f.long)
  }
  return {flags, problems}
}

/** Compares documented flags with the flags a command declares. */
export function checkFlags(page: Page, documented: DocumentedFlag[], declared: FlagSpec[], options: {root: boolean}): string[] {
  const problems: string[] = []
  const where = `${page.name}.md`
  const byName = new Map(declared.map((f) => [f.name, f]))
  const extra = options.root ? new Set(['help', 'version']) : new Set<string>()
  for (const doc of documented) {
    if (extra.has(doc.long)) continue
    const flag = byName.get(doc.long)
    if (!flag || flag.hidden) {
      problems.push(`${where}: OPTIONS documents --${doc.long}, which the command does not have`)
      continue
    }
    if (!options.root && flag.helpGroup === 'GLOBAL') {
      problems.push(`${where}: --${doc.long} is a global flag: document it in plakar.md only`)
      continue
    }
    if (options.root && flag.helpGroup !== 'GLOBAL') {
      problems.push(`${where}: --${doc.long} is not a global flag`)
      continue
    }
    if (doc.short !== flag.char) {
      problems.push(
        flag.char
          ? `${where}: --${doc.long} has the short form -${flag.char}: document it as \`--${doc.long}${doc.value ? ` ${doc.value}` : ''}\`, \`-${flag.char}\``
          : `${where}: --${doc.long} has no short form -${doc.short}`,
      )
    }
    if (flag.type === 'option' && !doc.value) problems.push(`${where}: --${doc.long} takes a value: write \`--${doc.long} VALUE\``)
    if (flag.type === 'boolean' && doc.value) problems.push(`${where}: --${doc.long} takes no value, but the page gives it ${doc.value}`)
  }
  const names = new Set(documented.map((d) => d.long))
  for (const flag of declared) {
    if (flag.hidden || names.has(flag.name)) continue
    if (options.root ? flag.helpGroup === 'GLOBAL' : flag.helpGroup !== 'GLOBAL') {
      problems.push(`${where}: --${flag.name} is not documented in OPTIONS`)
    }
  }
  return problems
}

/** Lines of the EXAMPLES ```sh block: comments and blank lines dropped. */
export function exampleLines(page: Page): {lines: string[]; problems: string[]} {
  const body = section(page, 'EXAMPLES')
  const problems: string[] = []
  const blocks = [...body.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)]
  if (blocks.length !== 1 || blocks[0][1] !== 'sh') {
    problems.push(`${page.name}.md: EXAMPLES must hold exactly one \`\`\`sh block`)
  }
  const lines: string[] = []
  for (const block of blocks) {
    for (const raw of block[2].split('\n')) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      lines.push(line)
    }
  }
  if (lines.length === 0) problems.push(`${page.name}.md: EXAMPLES has no example`)
  return {lines, problems}
}

/** Shell words of a line, up to the first unquoted operator (|, >, <, ;, &, #). */
export function shellWords(line: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote: '"' | "'" | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote) {
      if (c === quote) quote = undefined
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]
      else word += c
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      word ??= ''
    } else if (c === '\\' && i + 1 < line.length) word = (word ?? '') + line[++i]
    else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if ('|><;&'.includes(c) || (c === '#' && word === undefined)) break
    else word = (word ?? '') + c
  }
  if (word !== undefined) words.push(word)
  return words
}

/** Global flags that may come before the command (core/cli/src/cli/argv.ts moves them behind it). */
const LEADING_WITH_VALUE = new Set(['--config-dir', '--cache-dir', '--keyfile', '--concurrency'])
const LEADING_BOOLEAN = new Set(['--json', '--quiet', '-q', '--debug'])

/**
 * Checks one example invocation: strip environment assignments, `plakar`, leading global
 * flags and `at LOCATION [-o K=V]…`, resolve the command by the longest prefix of words, then
 * check every flag against that command's flags. `--help` and `-h` go anywhere, `--version` alone.
 */
export function checkExample(where: string, line: string, commands: Map<string, CommandSpec>): string[] {
  const words = shellWords(line)
  let i = 0
  while (i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i])) i++
  if (words[i] !== 'plakar') return [`${where}: example "${line}" does not run plakar`]
  i++
  const leading: string[] = []
  for (; i < words.length; i++) {
    const name = words[i].split('=')[0]
    if (LEADING_BOOLEAN.has(words[i])) leading.push(words[i])
    else if (LEADING_WITH_VALUE.has(name)) {
      leading.push(name)
      if (!words[i].includes('=')) i++
    } else break
  }
  if (words[i] === 'at') {
    if (i + 1 >= words.length) return [`${where}: example "${line}" has "at" without a location`]
    i += 2
    while (words[i] === '-o' || words[i]?.startsWith('-o=')) i += words[i] === '-o' ? 2 : 1
  }
  const rest = words.slice(i)
  if (rest.length === 0 || rest[0].startsWith('-')) {
    const bare = rest.filter((w) => w !== '--help' && w !== '-h' && w !== '--version')
    if (bare.length === 0 && leading.length === 0) return []
    return [`${where}: example "${line}" names no command`]
  }
  let id: string | undefined
  let used = 0
  for (let n = 1; n <= rest.length && !rest[n - 1].startsWith('-'); n++) {
    const candidate = rest.slice(0, n).join(':')
    if (commands.has(candidate)) {
      id = candidate
      used = n
    }
  }
  if (!id) return [`${where}: example "${line}" uses an unknown command "${rest[0]}"`]
  const command = commands.get(id)!
  const problems: string[] = []
  const flags = Object.values(command.flags).filter((f) => !f.hidden)
  const byLong = new Map(flags.map((f) => [f.name, f]))
  const byChar = new Map(flags.filter((f) => f.char).map((f) => [f.char!, f]))
  const check = (token: string): FlagSpec | undefined | 'help' => {
    if (token === '--help' || token === '-h') return 'help'
    const long = /^--([^=]+)/.exec(token)
    if (long) return byLong.get(long[1])
    const short = /^-([^-])$/.exec(token.split('=')[0])
    return short ? byChar.get(short[1]) : undefined
  }
  for (const flag of leading) {
    if (!check(flag)) problems.push(`${where}: example "${line}": ${id.replaceAll(':', ' ')} has no flag ${flag}`)
  }
  const args: string[] = []
  for (let j = used; j < rest.length; j++) {
    const token = rest[j]
    if (token === '--') {
      args.push(...rest.slice(j + 1))
      break
    }
    if (!token.startsWith('-') || token === '-') {
      args.push(token)
      continue
    }
    const flag = check(token)
    if (!flag) {
      problems.push(`${where}: example "${line}": ${id.replaceAll(':', ' ')} has no flag ${token.split('=')[0]}`)
      continue
    }
    if (flag !== 'help' && flag.type === 'option' && !token.includes('=')) j++
  }
  if (id === 'help' && args.length > 0 && !commands.has(args.join(':'))) {
    problems.push(`${where}: example "${line}" asks for help on an unknown command "${args.join(' ')}"`)
  }
  return problems
}

/** Codes listed in an EXIT STATUS section: "- `N` — text". */
export function exitCodes(page: Page): {codes: number[]; problems: string[]} {
  const codes: number[] = []
  const problems: string[] = []
  for (const item of bullets(section(page, 'EXIT STATUS'))) {
    const m = /^`(\d+)` — \S/.exec(item)
    if (m) codes.push(Number(m[1]))
    else problems.push(`${page.name}.md: EXIT STATUS bullet is not "\`N\` — text": "${item.slice(0, 60)}"`)
  }
  if (codes.length === 0) problems.push(`${page.name}.md: EXIT STATUS lists no exit code`)
  return {codes, problems}
}

/** Every "plakar-NAME(1)" or "plakar(1)" reference of a text, as page names. */
export function references(text: string): string[] {
  return [...text.matchAll(/\bplakar(?:-([a-z0-9-]+))?\(1\)/g)].map((m) => m[1] ?? 'plakar')
}

import {Help, type Command} from '@oclif/core'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * Manual pages: docs/commands/<command>.md rendered for the terminal, offline. The renderer is
 * a few dozen lines on purpose: the pages use a small, fixed subset of Markdown (headings,
 * paragraphs, bullet and numbered lists, fenced blocks, simple tables, inline code, bold,
 * links), and a Markdown-to-terminal library would pull a dependency tree into a CLI that must
 * start in under 300 ms.
 */

/** docs/commands of the root package (the oclif config root), else beside this module. */
export function docsDirs(root?: string): string[] {
  const dirs = root ? [join(root, 'docs', 'commands')] : []
  dirs.push(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'docs', 'commands'))
  return dirs
}

/** The page file name of a command id: "store:add" → "store-add.md". */
export function pageFile(id: string): string {
  return `${id.replaceAll(':', '-')}.md`
}

/** The manual page of a command id ("plakar" for the root page), or undefined. */
export function manualPage(id: string, root?: string): string | undefined {
  for (const dir of docsDirs(root)) {
    const file = join(dir, pageFile(id))
    if (existsSync(file)) return readFileSync(file, 'utf8')
  }
  return undefined
}

export interface RenderOptions {
  /** Bold and underline with ANSI escapes. */
  color: boolean
  /** Total line width to wrap paragraphs at. */
  width: number
}

const INDENT = 7
const ESC = '\u001b['
const SPACE = '\u0000'

/** Printable width of a rendered string (escapes do not count). */
function visible(text: string): number {
  // eslint-disable-next-line no-control-regex
  return [...text.replace(/\u001b\[[0-9;]*m/g, '')].length
}

/** Inline Markdown of one word (protected spaces inside): code, bold, emphasis, links, escapes. */
function inline(text: string, color: boolean): string {
  const bold = (s: string) => (color ? `${ESC}1m${s}${ESC}22m` : s)
  const under = (s: string) => (color ? `${ESC}4m${s}${ESC}24m` : s)
  const prose = (s: string) =>
    s
      .replace(/\[([^\]]+)\]\(([^)]+)\)/g, (_m, label: string, url: string) => (label === url ? url : `${label} <${url}>`))
      .replace(/\*\*([^*]+)\*\*/g, (_m, s1: string) => bold(s1))
      .replace(/(^|[^\w*])\*([^*\s][^*]*)\*(?!\w)/g, (_m, pre: string, s1: string) => `${pre}${under(s1)}`)
      .replace(/\\([\\`*_{}[\]()#+\-.!|<>])/g, '$1')
  // Code spans are literal: no other markup applies inside them.
  return text
    .split(/(`[^`]+`)/)
    .map((part) => (part.length > 1 && part.startsWith('`') && part.endsWith('`') ? bold(part.slice(1, -1)) : prose(part)))
    .join('')
    .replaceAll(SPACE, ' ')
}

/** Spaces inside code spans, bold spans and links do not break lines. */
function protect(text: string): string {
  return text.replace(/`[^`]+`|\*\*[^*]+\*\*|\[[^\]]+\]\([^)]+\)/g, (m) => m.replaceAll(' ', SPACE))
}

/** Greedy word wrap: first line at `first` columns of indent, the next ones at `rest`. */
function wrap(text: string, first: number, rest: number, options: RenderOptions): string[] {
  const words = protect(text.trim()).split(/\s+/).filter(Boolean).map((w) => inline(w, options.color))
  const lines: string[] = []
  let line = ''
  let used = 0
  let indent = first
  for (const word of words) {
    const w = visible(word)
    if (used > 0 && indent + used + 1 + w > options.width) {
      lines.push(' '.repeat(indent) + line)
      indent = rest
      line = ''
      used = 0
    }
    line += used > 0 ? ` ${word}` : word
    used += (used > 0 ? 1 : 0) + w
  }
  if (used > 0 || lines.length === 0) lines.push(' '.repeat(indent) + line)
  return lines
}

const LIST_ITEM = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/
/** "- `--flag VALUE`, `-f` — text": an option (or any term) and its description. */
const DEFINITION = /^((?:`[^`]+`)(?:\s*,\s*`[^`]+`)*)\s+—\s+(.*)$/

function renderTable(rows: string[], options: RenderOptions): string[] {
  const cells = rows
    .filter((row) => !/^\s*\|?\s*:?-{3,}/.test(row))
    .map((row) =>
      row
        .trim()
        .replace(/^\||\|$/g, '')
        .split(/(?<!\\)\|/)
        .map((cell) => inline(protect(cell.trim()), options.color)),
    )
  const widths: number[] = []
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))))
  return cells.map((row, r) => {
    const text = row.map((cell, i) => cell + ' '.repeat(widths[i] - visible(cell))).join('   ').trimEnd()
    return ' '.repeat(INDENT) + (r === 0 && options.color ? `${ESC}1m${text}${ESC}22m` : text)
  })
}

/**
 * A list. Items written "`term` — text" are definitions (options, exit codes): when every term
 * of the list is short, terms and texts form two columns, else each text goes under its term,
 * indented, as in man(1). Other items get a bullet (or their number).
 */
function renderList(items: {depth: number; marker: string; body: string}[], options: RenderOptions): string[] {
  const out: string[] = []
  const terms = items.map((item) => DEFINITION.exec(item.body))
  const width = Math.max(0, ...terms.map((t) => (t ? visible(inline(protect(t[1]), false)) : 0)))
  const columns = width > 0 && width <= 12
  for (const [n, item] of items.entries()) {
    const base = INDENT + item.depth
    const term = terms[n]
    if (term && columns) {
      const lines = wrap(term[2], base + width + 3, base + width + 3, options)
      const label = wrap(term[1], base, base, options)[0]
      lines[0] = label + ' '.repeat(Math.max(1, base + width + 3 - visible(label))) + lines[0].trimStart()
      out.push(...lines)
    } else if (term) {
      if (n > 0) out.push('')
      out.push(...wrap(term[1], base, base, options), ...wrap(term[2], base + 4, base + 4, options))
    } else {
      const marker = /^\d/.test(item.marker) ? item.marker : '•'
      const lines = wrap(item.body, base + 3, base + 3, options)
      lines[0] = ' '.repeat(base) + marker + ' '.repeat(Math.max(1, 3 - marker.length)) + lines[0].trimStart()
      out.push(...lines)
    }
  }
  return out
}

/**
 * Terminal rendering of a manual page, in the manner of man(1): section headings flush left,
 * text indented and wrapped, options as a term and an indented description, examples verbatim.
 */
export function renderMarkdown(text: string, options: RenderOptions | boolean): string {
  const opts: RenderOptions = typeof options === 'boolean' ? {color: options, width: 80} : options
  const bold = (s: string) => (opts.color ? `${ESC}1m${s}${ESC}22m` : s)
  const out: string[] = []
  const lines = text.replace(/\r\n/g, '\n').split('\n')
  const blank = () => {
    if (out.length > 0 && out.at(-1) !== '') out.push('')
  }
  let section = ''
  let i = 0
  while (i < lines.length) {
    const line = lines[i]
    if (line.trim() === '') {
      i++
      continue
    }
    if (line.startsWith('```')) {
      blank()
      // A synopsis sits at the text's indent, like man(1); examples and samples a little deeper.
      const indent = ' '.repeat(section === 'SYNOPSIS' ? INDENT : INDENT + 4)
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) out.push(lines[i] === '' ? '' : indent + lines[i])
      i++
      blank()
      continue
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line)
    if (heading) {
      const level = heading[1].length
      const title = heading[2].trim()
      if (level === 1) {
        const name = title.toUpperCase()
        const middle = 'plakar manual'
        const gap = Math.max(2, opts.width - 2 * name.length - middle.length)
        const left = Math.floor(gap / 2)
        out.push(`${name}${' '.repeat(left)}${middle}${' '.repeat(gap - left)}${name}`)
      } else {
        blank()
        if (level === 2) section = title.toUpperCase()
        out.push(level === 2 ? bold(title.toUpperCase()) : ' '.repeat(3) + bold(inline(protect(title), false)))
      }
      out.push('')
      i++
      continue
    }
    if (line.trimStart().startsWith('|')) {
      const rows: string[] = []
      for (; i < lines.length && lines[i].trimStart().startsWith('|'); i++) rows.push(lines[i])
      out.push(...renderTable(rows, opts))
      blank()
      continue
    }
    if (LIST_ITEM.test(line)) {
      // A run of items, each with its continuation lines (indented, not a new item).
      const items: {depth: number; marker: string; body: string}[] = []
      while (i < lines.length) {
        const item = LIST_ITEM.exec(lines[i])
        if (!item) break
        let body = item[3]
        for (i++; i < lines.length && /^\s+\S/.test(lines[i]) && !LIST_ITEM.test(lines[i]); i++) body += ` ${lines[i].trim()}`
        items.push({depth: Math.min(item[1].length, 8), marker: item[2], body})
      }
      out.push(...renderList(items, opts))
      out.push('')
      continue
    }
    // A paragraph: every following line up to a blank line or another block.
    let paragraph = line.replace(/^>\s?/, '')
    for (i++; i < lines.length; i++) {
      const next = lines[i]
      if (next.trim() === '' || next.startsWith('```') || /^#{1,6}\s/.test(next) || LIST_ITEM.test(next) || next.trimStart().startsWith('|')) break
      paragraph += ` ${next.replace(/^>\s?/, '').trim()}`
    }
    out.push(...wrap(paragraph, INDENT, INDENT, opts))
    out.push('')
  }
  while (out.at(-1) === '') out.pop()
  return out.join('\n')
}

/** Whether to style output, and how wide to wrap it. */
export function terminalOptions(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): RenderOptions {
  const tty = !!stream.isTTY
  const color = tty && !env.NO_COLOR && env.TERM !== 'dumb'
  const columns = tty && stream.columns ? stream.columns : 80
  return {color, width: Math.max(40, Math.min(columns, 100))}
}

/** Commands in the order a new user meets them; any other command follows, alphabetically. */
const ORDER = ['create', 'backup', 'ls', 'restore', 'cat', 'diff', 'locate', 'check', 'info', 'rm', 'version', 'help']

/** Subcommands of a topic, the everyday ones first. */
const SUB_ORDER = ['add', 'ls', 'install', 'update', 'uninstall', 'rm', 'show']
const subRank = (name: string) => (SUB_ORDER.includes(name) ? SUB_ORDER.indexOf(name) : SUB_ORDER.length)

/** Level-2 section `name` of a page, without its heading. */
function pageSection(page: string, name: string): string | undefined {
  const match = new RegExp(`^## ${name}\\s*\\n([\\s\\S]*?)(?=^## |(?![\\s\\S]))`, 'm').exec(page)
  return match?.[1]
}

/** The SYNOPSIS lines of a page (the fenced block). */
export function synopsis(page: string): string[] {
  const body = pageSection(page, 'SYNOPSIS') ?? ''
  const block = /```\w*\n([\s\S]*?)```/.exec(body)
  return (block?.[1] ?? '').split('\n').map((l) => l.trim()).filter(Boolean)
}

/** How a page writes each flag: "--tag TAG" for "- `--tag TAG`, `-t` — …" in OPTIONS. */
function pageFlagLabels(page: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of (pageSection(page, 'OPTIONS') ?? '').matchAll(/^- `(--([a-z0-9-]+)[^`]*)`/gm)) out.set(m[2], m[1])
  return out
}

/** "plakar [at LOCATION] cat [flags] ARG…" for a command without a page. */
export function generatedUsage(command: Pick<Command.Loadable, 'id' | 'args' | 'strict'>, separator = ' '): string {
  const args = Object.values(command.args ?? {}).map((a) => (a.required ? a.name.toUpperCase() : `[${a.name.toUpperCase()}]`))
  if (command.strict === false && args.length > 0) args[args.length - 1] += '...'
  return ['plakar', command.id.replaceAll(':', separator), '[flags]', ...args].join(' ')
}

/** The usage lines of a command: its page's SYNOPSIS, else generated from its arguments. */
export function usageLines(command: Pick<Command.Loadable, 'id' | 'args' | 'strict'>, root?: string): string[] {
  const page = manualPage(command.id, root)
  const lines = page ? synopsis(page) : []
  return lines.length > 0 ? lines : [generatedUsage(command)]
}

/**
 * A pager for long text on a terminal: $PLAKAR_PAGER, else $PAGER, else `less` (with -FRX:
 * quit if the text fits, keep styles, leave the text on screen), else the text is printed.
 * Resolves once the pager has exited.
 */
export async function page(text: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const command = env.PLAKAR_PAGER ?? env.PAGER ?? 'less'
  if (!process.stdout.isTTY || command === '' || command === 'cat') {
    process.stdout.write(`${text}\n`)
    return
  }
  const {spawn} = await import('node:child_process')
  const shown = await new Promise<boolean>((resolve) => {
    const child = spawn(command, {shell: true, stdio: ['pipe', 'inherit', 'inherit'], env: {LESS: 'FRX', ...env}})
    child.on('error', () => resolve(false))
    // The user may quit the pager before reading everything: a closed pipe is no error.
    child.stdin.on('error', () => {})
    child.on('exit', (code) => resolve(code !== 127))
    child.stdin.end(`${text}\n`)
  })
  if (!shown) process.stdout.write(`${text}\n`)
}

/**
 * Help in two sizes. `plakar`, `plakar --help` / `-h` and `plakar CMD --help` / `-h` print a
 * short usage screen (what it does, how to call it, its flags). `plakar help` and
 * `plakar help CMD` show the whole manual page from docs/ (offline), through a pager on a
 * terminal. Commands without a page (plugins' own) get oclif's generated help.
 */
export default class PlakarHelp extends Help {
  /** Short screens (called by oclif for bare `plakar`, --help and -h). */
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    if (!manualPage(command.id, this.config.root)) return super.showCommandHelp(command)
    this.log(this.shortCommandHelp(command))
  }

  override async showRootHelp(): Promise<void> {
    this.log(this.shortRootHelp())
  }

  /** `plakar help [CMD…]`: the manual page, through a pager on a terminal. */
  async showManual(argv: string[]): Promise<void> {
    const id = argv.join(':')
    if (id === '') {
      const root = manualPage('plakar', this.config.root)
      if (!root) return super.showRootHelp()
      return page(renderMarkdown(withUndocumented(root, this.undocumented()), terminalOptions()))
    }
    const command = this.config.findCommand(id)
    if (!command) {
      const topic = this.config.findTopic(id)
      if (topic) return this.showTopicHelp(topic)
      const {unknownCommand} = await import('./suggest.js')
      throw unknownCommand(argv.join(' '), this.config)
    }
    const text = manualPage(command.id, this.config.root)
    if (!text) return super.showCommandHelp(command)
    return page(renderMarkdown(text, terminalOptions()))
  }

  shortCommandHelp(command: Command.Loadable): string {
    const opts = terminalOptions()
    const bold = (s: string) => (opts.color ? `${ESC}1m${s}${ESC}22m` : s)
    const words = command.id.replaceAll(':', ' ')
    const out = [`plakar ${words} — ${command.summary ?? ''}`.trimEnd(), '', bold('Usage:')]
    for (const line of usageLines(command, this.config.root)) out.push(`  ${line}`)
    const flags = Object.values(command.flags ?? {}).filter((f) => !f.hidden && f.helpGroup !== 'GLOBAL')
    if (flags.length > 0) {
      out.push('', bold('Flags:'))
      const written = pageFlagLabels(manualPage(command.id, this.config.root) ?? '')
      const labels = flags.map((f) => `${f.char ? `-${f.char}, ` : ''}${written.get(f.name) ?? `--${f.name}${f.type === 'option' ? ' VALUE' : ''}`}`)
      const width = Math.min(28, Math.max(...labels.map((l) => l.length)))
      flags.forEach((f, i) => {
        const label = labels[i].length > width ? `${labels[i]}\n${' '.repeat(width + 4)}` : labels[i].padEnd(width + 2)
        out.push(`  ${label}${f.summary ?? f.description ?? ''}`)
      })
    }
    const examples = (command.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command)).slice(0, 3)
    if (examples.length > 0) out.push('', bold('Examples:'), ...examples.map((e) => `  ${e}`))
    out.push('', `Global flags: --json, --quiet, --debug, --keyfile FILE, ... (plakar --help).`, `Full manual: plakar help ${words}`)
    return out.join('\n')
  }

  shortRootHelp(): string {
    const opts = terminalOptions()
    const bold = (s: string) => (opts.color ? `${ESC}1m${s}${ESC}22m` : s)
    const summary = (c: Command.Loadable) => (c.summary ?? c.description ?? '').split('\n')[0].replaceAll('<%= config.bin %>', this.config.bin)
    // One line per command, and one per topic ("store add|ls|rm|show"); aliases left out.
    const aliases = new Set(this.config.commands.flatMap((c) => c.aliases ?? []))
    const rows = new Map<string, {name: string; text: string; subs: string[]}>()
    for (const c of this.config.commands) {
      if (c.hidden || aliases.has(c.id)) continue
      const [head, ...rest] = c.id.split(':')
      const row = rows.get(head) ?? {name: head, text: '', subs: []}
      if (rest.length === 0) row.text = summary(c)
      else row.subs.push(rest.join(' '))
      rows.set(head, row)
    }
    const rank = (id: string) => {
      const i = ORDER.indexOf(id)
      return i < 0 ? ORDER.length : i
    }
    const lines = [...rows.values()]
      .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name))
      .map((row) => {
        if (row.subs.length === 0) return {name: row.name, text: row.text}
        const subs = row.subs.sort((a, b) => subRank(a) - subRank(b) || a.localeCompare(b))
        if (subs.length > 4) subs.splice(4, subs.length - 4, '…')
        const topic = this.config.findTopic(row.name)?.description
        const first = this.config.findCommand(`${row.name}:${subs[0]}`)
        return {name: `${row.name} ${subs.join('|')}`, text: row.text || topic || (first ? summary(first) : '')}
      })
    const width = Math.max(...lines.map((l) => l.name.length).filter((n) => n <= 26))
    return [
      'plakar — versioned, deduplicated and encrypted backups of any data source to any storage',
      '',
      bold('Usage:'),
      '  plakar [global flags] [at LOCATION [-o KEY=VALUE]...] COMMAND [flags] [arguments]',
      '',
      bold('Commands:'),
      ...lines.map((l) => (l.name.length > width ? `  ${l.name}\n  ${''.padEnd(width + 2)}${l.text}` : `  ${l.name.padEnd(width + 2)}${l.text}`)),
      '',
      bold('Global flags:'),
      '  --json              machine-readable output',
      '  -q, --quiet         no progress, no summary',
      '  --debug             debugging messages and stack traces',
      '  --keyfile FILE      read the passphrase from FILE',
      '  --config-dir DIR, --cache-dir DIR, --concurrency N',
      '',
      'Run "plakar COMMAND -h" for a command\'s usage, "plakar help COMMAND" for its manual,',
      '"plakar help" for the whole manual (locations, passphrases, exit codes).',
    ].join('\n')
  }

  /** Visible commands without a page, as "- `words` — summary" lines. */
  private undocumented(): string[] {
    const separator = this.config.topicSeparator ?? ' '
    return this.config.commands
      .filter((c) => !c.hidden && manualPage(c.id, this.config.root) === undefined)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((c) => {
        const summary = (c.summary ?? c.description ?? '').split('\n')[0].replaceAll('<%= config.bin %>', this.config.bin)
        return `- \`${c.id.replaceAll(':', separator)}\` — ${summary || 'no description'}`
      })
  }
}

/** Inserts an "OTHER COMMANDS" section before SEE ALSO (or at the end). */
function withUndocumented(page: string, items: string[]): string {
  if (items.length === 0) return page
  const section = `## OTHER COMMANDS\n\nCommands without a manual page here; \`plakar COMMAND --help\` describes each.\n\n${items.join('\n')}\n\n`
  const at = page.search(/^## SEE ALSO/m)
  return at < 0 ? `${page.trimEnd()}\n\n${section}` : page.slice(0, at) + section + page.slice(at)
}

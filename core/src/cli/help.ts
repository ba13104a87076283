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
  dirs.push(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'commands'))
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

/**
 * `plakar help CMD` and `plakar CMD --help` both show the command's manual page from docs/,
 * offline; commands without a page (plugins' own) get oclif's generated help. `plakar help`
 * shows plakar(1), followed by the commands that have no page, so none goes unlisted.
 */
export default class PlakarHelp extends Help {
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    const page = manualPage(command.id, this.config.root)
    if (!page) return super.showCommandHelp(command)
    this.log(renderMarkdown(page, terminalOptions()))
  }

  override async showRootHelp(): Promise<void> {
    const page = manualPage('plakar', this.config.root)
    if (!page) return super.showRootHelp()
    this.log(renderMarkdown(withUndocumented(page, this.undocumented()), terminalOptions()))
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

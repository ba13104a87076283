import {Help, type Command} from '@oclif/core'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** docs/commands beside the installed package (core/dist/cli → ../../../docs/commands). */
export function docsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'commands')
}

/** The manual page of a command id ("store:add" → docs/commands/store-add.md), or undefined. */
export function manualPage(id: string): string | undefined {
  const file = join(docsDir(), `${id.replaceAll(':', '-')}.md`)
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined
}

/** Terminal rendering of our Markdown pages: headings and code stand out, nothing else changes. */
export function renderMarkdown(text: string, color: boolean): string {
  const bold = (s: string) => (color ? `\u001b[1m${s}\u001b[22m` : s)
  const lines: string[] = []
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      fenced = !fenced
      continue
    }
    if (fenced) lines.push(`    ${line}`)
    else if (/^#{1,6} /.test(line)) lines.push(bold(line.replace(/^#+ /, '').toUpperCase()))
    else lines.push(line.replace(/`([^`]+)`/g, (_m, code: string) => bold(code)))
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n')
}

/**
 * `plakar help CMD` and `plakar CMD --help` both show the command's manual page from docs/,
 * offline; commands without a page (plugins' own) get oclif's generated help.
 */
export default class PlakarHelp extends Help {
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    const page = manualPage(command.id)
    if (!page) return super.showCommandHelp(command)
    this.log(renderMarkdown(page, !!process.stdout.isTTY))
  }

  override async showRootHelp(): Promise<void> {
    const page = manualPage('plakar')
    if (!page) return super.showRootHelp()
    this.log(renderMarkdown(page, !!process.stdout.isTTY))
  }
}

import ignore from 'ignore'
import {readFileSync} from 'node:fs'
import {UsageError} from '@plakar/sdk'

/**
 * gitignore-style exclusion (the `ignore` package: the gitignore semantics eslint and prettier
 * rely on). Patterns match paths relative to the backup root; a pattern with a trailing slash
 * matches directories only; "!" re-includes.
 */
export function ignorePatterns(patterns: string[], files: string[]): string[] {
  const all = [...patterns]
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read ignore file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
    all.push(...text.split(/\r?\n/))
  }
  return all.filter((line) => line.trim() !== '' && !line.startsWith('#'))
}

/** A skip predicate for paths under `root` (importer namespace). */
export function excluder(root: string, patterns: string[], exact: string[] = []): (path: string, isDirectory: boolean) => boolean {
  const ig = ignore().add(patterns)
  const prefix = root === '/' ? '/' : `${root}/`
  const exactSet = new Set(exact)
  return (path, isDirectory) => {
    if (exactSet.has(path)) return true
    if (patterns.length === 0 || !path.startsWith(prefix)) return false
    const relative = path.slice(prefix.length)
    return relative !== '' && ig.ignores(isDirectory ? `${relative}/` : relative)
  }
}

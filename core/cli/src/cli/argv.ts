/**
 * `plakar [global flags] [at <location> [-o key=value…] [global flags]] <command> [flags] [args]`: oclif wants
 * the command first, so global flags written before it and the `at` clause move behind the
 * command's own arguments (before a "--" terminator, if any): `at X` becomes the hidden flag
 * `--at X` and each `-o k=v` right after it `--at-option k=v`.
 */
const GLOBAL_WITH_VALUE = new Set(['--config-dir', '--cache-dir', '--keyfile', '--concurrency'])
const GLOBAL_BOOLEAN = new Set(['--json', '--quiet', '-q', '--debug'])

export function normalizeArgv(argv: string[]): string[] {
  const moved: string[] = []
  let i = takeGlobals(argv, 0, moved)
  const at: string[] = []
  if (argv[i] === 'at' && i + 1 < argv.length) {
    at.push('--at', argv[i + 1])
    i += 2
    // Connector options of the repository location ("at s3://… -o region=x -o use_tls=false"),
    // mixed with global flags: "at @prod --json ls" means what "--json at @prod ls" means.
    for (;;) {
      if (argv[i] === '-o' && i + 1 < argv.length) {
        at.push('--at-option', argv[i + 1])
        i += 2
      } else if (argv[i]?.startsWith('-o=')) {
        at.push('--at-option', argv[i++].slice(3))
      } else {
        const next = takeGlobals(argv, i, moved)
        if (next === i) break
        i = next
      }
    }
  }
  const rest = argv.slice(i)
  if (rest.length === 0) return moved
  moved.push(...at)
  if (moved.length === 0) return rest
  const terminator = rest.indexOf('--')
  return terminator < 0 ? [...rest, ...moved] : [...rest.slice(0, terminator), ...moved, ...rest.slice(terminator)]
}

/** Moves the global flags that start at argv[i] into `moved`; returns the index after them. */
function takeGlobals(argv: string[], i: number, moved: string[]): number {
  for (; i < argv.length; i++) {
    const arg = argv[i]
    const name = arg.split('=')[0]
    if (GLOBAL_BOOLEAN.has(arg)) moved.push(arg)
    else if (GLOBAL_WITH_VALUE.has(name)) {
      if (arg.includes('=')) moved.push(arg)
      else if (i + 1 < argv.length) moved.push(arg, argv[++i])
      else moved.push(arg)
    } else break
  }
  return i
}

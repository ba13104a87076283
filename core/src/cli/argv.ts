/**
 * `plakar [global flags] [at <location>] <command> [flags] [args]`: oclif wants the command
 * first, so global flags written before it and the `at` clause move behind the command's own
 * arguments (before a "--" terminator, if any), `at X` becoming the hidden flag `--at X`.
 */
const GLOBAL_WITH_VALUE = new Set(['--config-dir', '--cache-dir', '--keyfile', '--concurrency'])
const GLOBAL_BOOLEAN = new Set(['--json', '--quiet', '-q', '--debug'])

export function normalizeArgv(argv: string[]): string[] {
  const moved: string[] = []
  let i = 0
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
  if (argv[i] === 'at' && i + 1 < argv.length) {
    moved.push('--at', argv[i + 1])
    i += 2
  }
  const rest = argv.slice(i)
  if (moved.length === 0) return rest
  if (rest.length === 0) return moved.filter((a) => a !== '--at')
  const terminator = rest.indexOf('--')
  return terminator < 0 ? [...rest, ...moved] : [...rest.slice(0, terminator), ...moved, ...rest.slice(terminator)]
}

/**
 * Shell completion: what may come next on a plakar command line. The shell script that
 * `plakar completion SHELL` prints calls `plakar complete -- WORDS…` at each TAB and offers the
 * lines it prints. Commands and flags come from the commands' own definitions (the oclif
 * manifest: they cannot drift), named configurations from the configuration file, snapshot ids
 * from the repository (only when it opens without a prompt: completion must never ask).
 *
 * @oclif/plugin-autocomplete (3.x) writes static scripts of commands and flags only: it cannot
 * offer named configurations or snapshot ids, which is why plakar answers the shell itself.
 */

export interface CompletableCommand {
  /** Words of the command: `store add`. */
  id: string
  /** Flags with their `--name`, short `-c`, and whether a value follows. */
  flags: {name: string; char?: string; hasValue: boolean}[]
}

export interface CompletionData {
  commands: CompletableCommand[]
  /** Names of the named configurations of a kind. */
  named: (kind: 'store' | 'source' | 'destination') => string[]
  /** Snapshot ids (short), newest first, of the repository `at` names (or the default one). */
  snapshots: (at: string | undefined) => Promise<string[]>
}

/** Commands whose positional arguments are snapshots (SNAPSHOT[:PATH]). */
const SNAPSHOT_ARGS = new Set(['ls', 'info', 'check', 'restore', 'diff', 'cat', 'rm', 'tag', 'archive', 'sync', 'thaw status'])
/** Commands whose positional argument is a named configuration. */
const NAMED_ARGS: Record<string, 'store' | 'source' | 'destination'> = {
  'store show': 'store',
  'store rm': 'store',
  'source show': 'source',
  'source rm': 'source',
  'destination show': 'destination',
  'destination rm': 'destination',
}
/** Global flags that take a value (written before the command, or anywhere). */
const GLOBAL_WITH_VALUE = new Set(['--config-dir', '--cache-dir', '--keyfile', '--concurrency'])

/**
 * Candidates for the last word of `words` (the words after `plakar`; the last is the one being
 * completed, possibly empty). An empty answer lets the shell complete file names.
 */
export async function complete(words: string[], data: CompletionData): Promise<string[]> {
  const current = words.at(-1) ?? ''
  const before = words.slice(0, -1)
  const ids = new Set(data.commands.map((c) => c.id))
  const refs = (kind: 'store' | 'source' | 'destination') => data.named(kind).map((n) => `@${n}`)

  // Global flags and the `at LOCATION [-o k=v]…` clause come before the command.
  let at: string | undefined
  let i = 0
  const rest: string[] = []
  while (i < before.length) {
    const w = before[i]
    if (w === 'at' && rest.length === 0 && i + 1 === before.length) return filter(refs('store'), current)
    if (w === 'at' && rest.length === 0) {
      at = before[i + 1]
      i += 2
    } else if ((w === '-o' || GLOBAL_WITH_VALUE.has(w)) && rest.length === 0) i += 2
    else if (w.startsWith('-') && rest.length === 0) i++
    else rest.push(before[i++])
  }
  const previous = before.at(-1)
  if (previous !== undefined && GLOBAL_WITH_VALUE.has(previous)) return []

  // The command: the longest run of words that names one.
  let command: CompletableCommand | undefined
  let used = 0
  for (let n = rest.length; n > 0 && !command; n--) {
    const id = rest.slice(0, n).join(' ')
    if (ids.has(id)) {
      command = data.commands.find((c) => c.id === id)
      used = n
    }
  }
  if (!command) {
    // Still naming the command: the next word of every command that starts with these words.
    const prefix = rest.join(' ')
    const next = new Set<string>()
    for (const id of ids) {
      if (prefix === '' || id.startsWith(`${prefix} `)) next.add(id.slice(prefix === '' ? 0 : prefix.length + 1).split(' ')[0])
    }
    if (rest.length === 0 && current.startsWith('-')) return filter(['--json', '--quiet', '--debug', '--config-dir', '--cache-dir', '--keyfile', '--concurrency'], current)
    return filter([...next, ...(rest.length === 0 && at === undefined ? ['at'] : [])].sort(), current)
  }
  // The command is named; a subcommand may still follow (`store` then `add`).
  const args = rest.slice(used)
  if (args.length === 0) {
    const subcommands = [...ids].filter((id) => id.startsWith(`${command.id} `)).map((id) => id.slice(command.id.length + 1).split(' ')[0])
    if (subcommands.length > 0 && !current.startsWith('-')) return filter([...new Set(subcommands)].sort(), current)
  }
  const flag = previous && command.flags.find((f) => previous === `--${f.name}` || (f.char && previous === `-${f.char}`))
  if (flag && flag.hasValue) {
    if (flag.name === 'to' && command.id === 'restore') return filter(refs('destination'), current)
    if (flag.name === 'source') return filter(refs('source'), current)
    return []
  }
  if (current.startsWith('-')) return filter(command.flags.map((f) => `--${f.name}`).sort(), current)
  if (NAMED_ARGS[command.id]) return filter(data.named(NAMED_ARGS[command.id]), current)
  if (command.id === 'backup') return filter(refs('source'), current)
  if (SNAPSHOT_ARGS.has(command.id)) {
    if (command.id === 'sync' && args.some((a) => a === 'to' || a === 'from' || a === 'with')) return filter(refs('store'), current)
    const ids = await data.snapshots(at).catch(() => [])
    return filter([...ids, 'latest', ...(command.id === 'sync' ? ['to', 'from', 'with'] : [])], current)
  }
  return []
}

const filter = (candidates: string[], current: string) => candidates.filter((c) => c.startsWith(current))

/** The script a shell sources: it asks `plakar complete` at each TAB, never prompting. */
export function completionScript(shell: 'bash' | 'zsh', bin = 'plakar'): string {
  const bash = `# plakar completion for bash (plakar completion bash)
_plakar_complete() {
  local IFS=$'\\n'
  local words=("\${COMP_WORDS[@]:1:COMP_CWORD}")
  COMPREPLY=($(${bin} complete -- "\${words[@]}" </dev/null 2>/dev/null))
}
complete -o default -F _plakar_complete ${bin}
`
  if (shell === 'bash') return bash
  return `# plakar completion for zsh (plakar completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash}`
}

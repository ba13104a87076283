import type {Config} from '@oclif/core'
import {distance} from 'fastest-levenshtein'
import {UsageError} from '@plakar/sdk'

/**
 * "did you mean": the commands closest to a mistyped one. fastest-levenshtein (no dependencies,
 * widely used) gives the edit distance; a suggestion must be within a third of the word's length
 * (at least one edit, at most three), so `bakup` → `backup` but `xyz` suggests nothing; only
 * the closest candidates are named.
 */
export function suggestions(typed: string, candidates: string[], max = 3): string[] {
  const word = typed.toLowerCase()
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  const scored = candidates
    .map((c) => ({c, d: Math.min(distance(word, c), c.startsWith(word) && word.length >= 2 ? 1 : Infinity)}))
    .filter(({d}) => d <= limit)
  // Only the closest: "store lss" suggests "store ls", not every store command.
  const best = Math.min(...scored.map(({d}) => d))
  return scored
    .filter(({d}) => d === best)
    .sort((a, b) => a.c.localeCompare(b.c))
    .slice(0, max)
    .map(({c}) => c)
}

/** The command words a user can type: "backup", "store add", … (visible commands only). */
export function commandWords(config: Pick<Config, 'commands' | 'topicSeparator'>): string[] {
  const separator = config.topicSeparator ?? ' '
  return config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', separator))
}

/** The usage error for an unknown command, with suggestions. */
export function unknownCommand(typed: string, config: Pick<Config, 'commands' | 'topicSeparator'>): UsageError {
  const found = suggestions(typed, commandWords(config))
  const hint = found.length > 0 ? `did you mean ${found.map((f) => `"${f}"`).join(' or ')}?` : '"plakar --help" lists the commands'
  return new UsageError(`"${typed}" is not a plakar command: ${hint}`)
}

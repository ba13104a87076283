import {Flags} from '@oclif/core'
import {parseTime, type SnapshotFilter} from '@plakar/engine/engine/selection.js'

/**
 * The snapshot filters every selecting command accepts (see engine/selection.ts for their
 * meaning). One definition, so the words and their help read the same everywhere.
 */
export const selectionFlags = {
  since: Flags.string({description: 'only snapshots taken at or after this time: YYYY-MM-DD, an ISO time, or a duration ago (7d, 12h)'}),
  before: Flags.string({description: 'only snapshots taken before this time: YYYY-MM-DD, an ISO time, or a duration ago (30d)'}),
  tag: Flags.string({description: 'only snapshots with this tag (repeatable: with every one of them)', multiple: true, multipleNonGreedy: true}),
  host: Flags.string({description: 'only snapshots taken on this host (repeatable: any of them)', multiple: true, multipleNonGreedy: true}),
  path: Flags.string({description: 'only snapshots of this path or of a path below it (repeatable: any of them)', multiple: true, multipleNonGreedy: true}),
  name: Flags.string({description: 'only snapshots with this name, given by backup --name (repeatable: any of them)', multiple: true, multipleNonGreedy: true}),
}

export interface SelectionFlagValues {
  since?: string
  before?: string
  tag?: string[]
  host?: string[]
  path?: string[]
  name?: string[]
}

/** The filter the flags describe; bad dates or durations are usage errors (exit 2). */
export function filterFromFlags(flags: SelectionFlagValues, now = Date.now()): SnapshotFilter {
  const filter: SnapshotFilter = {}
  if (flags.since !== undefined) filter.since = parseTime(flags.since, '--since', now)
  if (flags.before !== undefined) filter.before = parseTime(flags.before, '--before', now)
  // A tag may hold a comma: several tags are given by repeating the flag, never split here.
  if (flags.tag?.length) filter.tags = flags.tag
  if (flags.host?.length) filter.hosts = flags.host
  if (flags.path?.length) filter.paths = flags.path
  if (flags.name?.length) filter.names = flags.name
  return filter
}

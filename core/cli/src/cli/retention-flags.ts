import {Flags} from '@oclif/core'
import {GROUP_FIELDS, type GroupField, type RetentionPolicy} from '@plakar/engine/engine/retention.js'
import {parseDuration} from '@plakar/engine/engine/selection.js'
import {UsageError} from '@plakar/sdk'

/** The retention rules, shared by `prune` and `policy add` so a saved policy reads as the flags do. */
export const retentionFlags = {
  'keep-last': Flags.integer({description: 'keep the N newest snapshots of each group', min: 0}),
  'keep-hourly': Flags.integer({description: 'keep the newest snapshot of each of the last N hours that have one', min: 0}),
  'keep-daily': Flags.integer({description: 'keep the newest snapshot of each of the last N days that have one', min: 0}),
  'keep-weekly': Flags.integer({description: 'keep the newest snapshot of each of the last N weeks that have one', min: 0}),
  'keep-monthly': Flags.integer({description: 'keep the newest snapshot of each of the last N months that have one', min: 0}),
  'keep-yearly': Flags.integer({description: 'keep the newest snapshot of each of the last N years that have one', min: 0}),
  'keep-within': Flags.string({description: "keep every snapshot taken within this duration of its group's newest (7d, 1y6m)"}),
  'keep-tag': Flags.string({description: 'keep every snapshot with this tag (repeatable)', multiple: true, multipleNonGreedy: true}),
  'group-by': Flags.string({description: 'group snapshots by these fields, comma-separated: host, path, tags, name (default host,path)'}),
}

/** A saved policy, in the words of the flags (policies.json stays readable and editable). */
export interface PolicyWords {
  'keep-last'?: number
  'keep-hourly'?: number
  'keep-daily'?: number
  'keep-weekly'?: number
  'keep-monthly'?: number
  'keep-yearly'?: number
  'keep-within'?: string
  'keep-tag'?: string[]
  'group-by'?: string
}

export const POLICY_KEYS = Object.keys(retentionFlags) as (keyof PolicyWords)[]

export function wordsFromFlags(flags: Record<string, unknown>): PolicyWords {
  const words: Record<string, unknown> = {}
  for (const key of POLICY_KEYS) if (flags[key] !== undefined) words[key] = flags[key]
  return words as PolicyWords
}

export function parseGroupBy(text: string): GroupField[] {
  const fields = text.split(',').map((f) => f.trim()).filter((f) => f !== '')
  for (const f of fields) {
    if (!(GROUP_FIELDS as readonly string[]).includes(f)) throw new UsageError(`--group-by: "${f}" is not a field: use ${GROUP_FIELDS.join(', ')}`)
  }
  return fields as GroupField[]
}

export function policyFromWords(words: PolicyWords): RetentionPolicy {
  return {
    last: words['keep-last'],
    hourly: words['keep-hourly'],
    daily: words['keep-daily'],
    weekly: words['keep-weekly'],
    monthly: words['keep-monthly'],
    yearly: words['keep-yearly'],
    within: words['keep-within'] === undefined ? undefined : parseDuration(words['keep-within'], '--keep-within'),
    tags: words['keep-tag'],
    groupBy: words['group-by'] === undefined ? undefined : parseGroupBy(words['group-by']),
  }
}

/** The policy as a command line fragment ("--keep-last 3 --keep-daily 7"). */
export function describeWords(words: PolicyWords): string {
  const parts: string[] = []
  for (const key of POLICY_KEYS) {
    const v = words[key]
    if (v === undefined) continue
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`--${key} ${one}`)
  }
  return parts.join(' ')
}

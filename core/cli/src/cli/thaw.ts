import {createInterface} from 'node:readline/promises'
import {Flags} from '@oclif/core'
import {coldStorageOf, executeThaw, PackfileCollector, planThaw, ThawGate, type ThawPlan} from '@plakar/engine/engine/thaw.js'
import type {Repository} from '@plakar/engine/repository/repository.js'
import {UsageError, type Logger} from '@plakar/sdk'
import {formatBytes, formatDuration} from './output.js'

/** Flags of every command that reads file content (restore, cat, check, sync from, archive). */
export const thawFlags = {
  yes: Flags.boolean({char: 'y', description: 'thaw archived data without asking (cold storages: glacier)'}),
  'thaw-tier': Flags.string({description: 'retrieval tier of thaws: Expedited, Standard or Bulk (default: the storage\'s thaw_tier)', options: ['Expedited', 'Standard', 'Bulk']}),
  'thaw-days': Flags.integer({description: 'days thawed copies stay readable (default: the storage\'s thaw_days)', min: 1, max: 30}),
}

export interface ThawFlagValues {
  yes?: boolean
  'thaw-tier'?: string
  'thaw-days'?: number
}

export interface ThawContext {
  repo: Repository
  logger: Logger
  json: boolean
  quiet: boolean
  signal: AbortSignal
}

/** A thaw under way while the command reads: `finished()` waits for its end and reports it. */
export interface ThawRun {
  finished(): Promise<void>
}

function money(value: number, currency: string): string {
  return `${currency === 'USD' ? '$' : `${currency} `}${value < 0.01 && value > 0 ? value.toFixed(4) : value.toFixed(2)}`
}

/** The plan in words: what is needed, what must be thawed, and what each tier costs. */
export function describePlan(plan: ThawPlan): string[] {
  const lines = [
    `thaw: ${plan.packfiles.size} data packfiles needed: ${plan.toRequest.length} archived (${formatBytes(plan.toRequestBytes)}) to thaw, ` +
      `${plan.inProgress.length} being thawed already, ${plan.readable} readable`,
  ]
  if (plan.toRequest.length > 0) {
    for (const e of plan.estimates) {
      lines.push(`  ${e.tier.padEnd(10)} ${money(e.cost, plan.currency).padStart(10)}  ${e.typicalWait}${e.tier === plan.tier ? '  <- this run' : ''}`)
    }
    lines.push(`  prices: ${plan.priceSource}; thawed copies stay readable ${plan.days} days`)
  }
  return lines
}

/**
 * Before a command reads file content from a cold storage: collects the data packfiles it needs
 * (`fill`), prints the plan and asks for confirmation (or --yes), then starts the thaw and
 * returns at once: the command reads while packfiles thaw, each read of a packfile still
 * archived waiting until it is readable (repo.reader.waitFor), so restored files appear as
 * thaws complete, not after the last one. The command awaits `finished()` after its reads.
 * Returns undefined on other storages, and when nothing needs thawing.
 */
export async function startThaw(context: ThawContext, flags: ThawFlagValues, fill: (collector: PackfileCollector) => Promise<void>): Promise<ThawRun | undefined> {
  const storage = coldStorageOf(context.repo)
  if (!storage) return undefined
  const collector = new PackfileCollector(context.repo)
  await fill(collector)
  collector.flush()
  if (collector.packfiles.size === 0) return undefined
  const tier = flags['thaw-tier']
  const plan = await planThaw(context.repo, storage, collector.packfiles, {tier, days: flags['thaw-days']})
  if (plan.toRequest.length === 0 && plan.inProgress.length === 0) return undefined
  if (tier && plan.toRequest.length > 0 && !plan.estimates.some((e) => e.tier === tier)) {
    throw new UsageError(`--thaw-tier ${tier} is not offered for this storage class: use ${plan.estimates.map((e) => e.tier).join(', ')}`)
  }
  const say = (line: string) => {
    if (!context.quiet) process.stderr.write(`${line}\n`)
  }
  if (context.json) {
    process.stderr.write(
      `${JSON.stringify({
        thaw: {
          needed: plan.packfiles.size,
          toThaw: plan.toRequest.length,
          toThawBytes: plan.toRequestBytes,
          inProgress: plan.inProgress.length,
          readable: plan.readable,
          tier: plan.tier,
          days: plan.days,
          currency: plan.currency,
          priceSource: plan.priceSource,
          estimates: plan.estimates,
        },
      })}\n`,
    )
  } else {
    for (const line of describePlan(plan)) say(line)
  }
  if (plan.toRequest.length > 0 && !flags.yes) {
    if (!process.stdin.isTTY || context.json) {
      throw new UsageError(`${plan.toRequest.length} archived packfiles must be thawed first: run again with --yes to accept the cost above`)
    }
    const rl = createInterface({input: process.stdin, output: process.stderr})
    const answer = await rl.question(`thaw ${plan.toRequest.length} packfiles with tier ${plan.tier}? [y/N] `, {signal: context.signal}).finally(() => rl.close())
    if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('nothing thawed: the command needs the archived data')
  }
  const started = Date.now()
  let lastReadable = -1
  const gate = new ThawGate()
  const running = executeThaw(storage, plan, {
    signal: context.signal,
    gate,
    onProgress: (p) => {
      // One line each time more packfiles are readable (above the command's own progress).
      if (p.readable !== lastReadable && !context.quiet && !context.json) {
        context.logger.info(`thaw: ${p.readable}/${p.total} packfiles readable${p.waitingMs !== undefined && p.readable < p.total ? `, next check in ${formatDuration(p.waitingMs)}` : ''}`)
      }
      lastReadable = p.readable
    },
  })
  // The command may fail before it awaits the thaw: its reads then carry the thaw's error.
  running.catch(() => {})
  context.repo.reader.waitFor = (pack) => gate.wait(pack)
  return {
    finished: async () => {
      try {
        const {requested} = await running
        say(`thaw: ${plan.packfiles.size} packfiles readable (${requested} restores requested by this run) in ${formatDuration(Date.now() - started)}`)
      } finally {
        context.repo.reader.waitFor = undefined
      }
    },
  }
}

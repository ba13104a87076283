import {createInterface} from 'node:readline/promises'
import {Flags} from '@oclif/core'
import {coldStorageOf, executeThaw, PackfileCollector, planThaw, type ThawPlan} from '@plakar/engine/engine/thaw.js'
import type {Repository} from '@plakar/engine/repository/repository.js'
import {UsageError, type Logger} from '@plakar/sdk'
import {formatBytes, formatDuration} from './output.js'
import type {ProgressDisplay} from './progress.js'

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
  progress: () => ProgressDisplay
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
 * (`fill`), prints the plan and asks for confirmation (or --yes), thaws, and waits until every
 * packfile is readable, with progress. Does nothing on other storages.
 */
export async function thawBeforeReading(context: ThawContext, flags: ThawFlagValues, fill: (collector: PackfileCollector) => Promise<void>): Promise<void> {
  const storage = coldStorageOf(context.repo)
  if (!storage) return
  const collector = new PackfileCollector(context.repo)
  await fill(collector)
  collector.flush()
  if (collector.packfiles.size === 0) return
  const tier = flags['thaw-tier']
  const plan = await planThaw(context.repo, storage, collector.packfiles, {tier, days: flags['thaw-days']})
  if (plan.toRequest.length === 0 && plan.inProgress.length === 0) return
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
  const display = context.progress()
  const started = Date.now()
  let lastLine = ''
  const {requested} = await executeThaw(storage, plan, {
    signal: context.signal,
    onProgress: (p) => {
      display.update({label: 'thaw', files: p.readable, totalFiles: p.total, bytes: 0, unit: 'packfiles readable'})
      const line = `thaw: ${p.readable}/${p.total} packfiles readable${p.waitingMs !== undefined ? `, next check in ${formatDuration(p.waitingMs)}` : ''}`
      if (line !== lastLine && !process.stderr.isTTY && !context.quiet) context.logger.info(line)
      lastLine = line
    },
  })
  display.stop()
  say(`thaw: ${plan.packfiles.size} packfiles readable (${requested} restores requested by this run) in ${formatDuration(Date.now() - started)}`)
}

import {formatInterval} from './schedule.js'
import type {HookCommand} from './task-file.js'

const SECRET_VARIABLES = ['PLAKAR_PASSPHRASE', 'PLAKAR_PEER_PASSPHRASE']

/** What a hook knows of the run: given to it as environment variables (docs/agent.md). */
export interface HookContext {
  task: string
  kind: string
  /** "running" for the pre hook, then "success" or "failure". */
  status: 'running' | 'success' | 'failure'
  snapshot?: string
  error?: string
  durationMs?: number
  runId: number
}

export interface HookResult {
  ok: boolean
  /** One line: why the hook failed. */
  message?: string
  /** The hook's output (stdout then stderr), for the log. */
  output: string
}

/**
 * Runs a hook with execa: a string through the shell (users write them as they would in a
 * crontab), a list as a program and its arguments. Killed after `timeoutMs` (SIGTERM, then
 * SIGKILL 5 s later); a hook's failure is reported, never thrown.
 */
export async function runHook(command: HookCommand, context: HookContext, options: {timeoutMs: number; cwd?: string; signal?: AbortSignal}): Promise<HookResult> {
  const {execa} = await import('execa')
  const env: Record<string, string> = {
    PLAKAR_TASK: context.task,
    PLAKAR_TASK_KIND: context.kind,
    PLAKAR_STATUS: context.status,
    PLAKAR_RUN_ID: String(context.runId),
    PLAKAR_SNAPSHOT: context.snapshot ?? '',
    PLAKAR_ERROR: context.error ?? '',
    PLAKAR_DURATION_MS: context.durationMs === undefined ? '' : String(context.durationMs),
  }
  // The agent's environment, less its passphrases: a hook (a curl, a mail) has no use for them,
  // and a hook that runs plakar itself can be given a key file.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !SECRET_VARIABLES.includes(k))) as Record<string, string>
  const common = {
    env: {...inherited, ...env},
    extendEnv: false,
    reject: false,
    all: true,
    stdin: 'ignore' as const,
    timeout: options.timeoutMs,
    forceKillAfterDelay: 5000,
    cancelSignal: options.signal,
    cwd: options.cwd,
  }
  const result = typeof command === 'string' ? await execa(command, {...common, shell: true}) : await execa(command[0], command.slice(1), common)
  const output = String(result.all ?? '').trim()
  if (result.timedOut) return {ok: false, message: `timed out after ${formatInterval(options.timeoutMs)}`, output}
  if (result.isCanceled) return {ok: false, message: 'stopped: the agent is shutting down', output}
  if (result.failed) {
    const why = result.exitCode !== undefined ? `exit code ${result.exitCode}` : result.signal ? `killed by ${result.signal}` : (result.shortMessage ?? 'could not start').split('\n')[0]
    return {ok: false, message: why, output}
  }
  return {ok: true, output}
}

/** A hook as the log names it: its program, never its arguments (they may hold secrets). */
export function hookName(command: HookCommand): string {
  const first = typeof command === 'string' ? command.trim().split(/\s+/)[0] : command[0]
  return first ?? ''
}

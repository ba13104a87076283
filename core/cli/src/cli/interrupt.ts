import {PlakarError} from '@plakar/sdk'

/**
 * Process-level interruption: SIGINT (Ctrl-C), SIGTERM, SIGHUP and a closed stdout pipe.
 *
 * The first one aborts the command's AbortSignal, so the engine stops at its next check and the
 * command unwinds through its normal cleanup (locks released, partial objects left unreferenced,
 * which every writer already tolerates after a crash). If the command has not ended after
 * `graceMs`, a forced shutdown runs the registered emergency cleanups (lock release) for at
 * most `shutdownMs`, then exits: a hung network call or a busy worker never keeps an
 * interrupted process alive. A second signal exits at once.
 *
 * Exit codes follow the shell's convention for a process ended by a signal (128 + number):
 * 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 141 for a closed pipe (SIGPIPE).
 */
export const INTERRUPT_EXIT: Record<Reason, number> = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129, EPIPE: 141}

export type Reason = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'EPIPE'

export class InterruptedError extends PlakarError {
  readonly reason: Reason
  constructor(reason: Reason) {
    super(reason === 'EPIPE' ? 'output closed' : 'interrupted', INTERRUPT_EXIT[reason])
    this.reason = reason
  }
}

export interface InterruptOptions {
  /** Says what happens (printed above the progress bar); not called for a closed pipe. */
  notice: (message: string) => void
  /** Run before any forced exit: restore the terminal (cursor, progress line). */
  teardown: () => void
  /** Emergency cleanups of a forced shutdown (release locks); bounded by `shutdownMs`. */
  shutdown: () => Promise<void>
  graceMs?: number
  shutdownMs?: number
}

export class Interruption {
  readonly #controller = new AbortController()
  readonly #options: Required<InterruptOptions>
  #reason?: Reason
  #count = 0
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly #listeners: [NodeJS.EventEmitter, string, (...args: any[]) => void][] = []

  constructor(options: InterruptOptions) {
    this.#options = {graceMs: 1000, shutdownMs: 500, ...options}
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Why the command was interrupted, if it was. */
  get reason(): Reason | undefined {
    return this.#reason
  }

  get exitCode(): number | undefined {
    return this.#reason ? INTERRUPT_EXIT[this.#reason] : undefined
  }

  install(): this {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) this.#on(process, signal, () => this.interrupt(signal))
    // Writing to a closed pipe (`plakar ls | head -1`) raises EPIPE on the stream instead of
    // killing the process (Node ignores SIGPIPE); without a listener it would be a stack trace.
    this.#on(process.stdout, 'error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') this.interrupt('EPIPE')
      else throw error
    })
    // Aborted work that never settles (a promise nobody rejects) would otherwise let Node end
    // with its "unsettled top-level await" code 13 and no message.
    this.#on(process, 'beforeExit', () => {
      if (this.#reason) void this.forceShutdown()
    })
    this.#on(process.stderr, 'error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') this.interrupt('EPIPE')
    })
    return this
  }

  uninstall(): void {
    for (const [emitter, event, fn] of this.#listeners.splice(0)) emitter.off(event, fn)
  }

  interrupt(reason: Reason): void {
    if (++this.#count > 1) {
      // A second Ctrl-C: the user wants out now. Locks left behind expire on their own.
      if (reason === 'EPIPE') return
      this.#exitNow(this.exitCode ?? INTERRUPT_EXIT[reason])
      return
    }
    this.#reason = reason
    // The progress display goes at once: what is left to see is the command stopping.
    this.#options.teardown()
    if (reason === 'SIGINT') this.#options.notice('interrupted: stopping (press Ctrl-C again to quit at once)')
    else if (reason !== 'EPIPE') this.#options.notice(`${reason === 'SIGTERM' ? 'terminated' : 'hung up'}: stopping (send ${reason} again to quit at once)`)
    this.#controller.abort(new InterruptedError(reason))
    // Unreferenced: when everything else has ended, the process exits without waiting for it.
    setTimeout(() => void this.forceShutdown(), this.#options.graceMs).unref()
  }

  /** Runs the emergency cleanups for a bounded time, then exits with the interruption's code. */
  async forceShutdown(): Promise<void> {
    const code = this.exitCode ?? 1
    this.#options.teardown()
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.shutdownMs)
    })
    await Promise.race([this.#options.shutdown().catch(() => {}), deadline])
    clearTimeout(timer)
    this.#exitNow(code)
  }

  #exitNow(code: number): never {
    this.#options.teardown()
    process.exit(code)
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #on(emitter: NodeJS.EventEmitter, event: string, fn: (...args: any[]) => void): void {
    emitter.on(event, fn)
    this.#listeners.push([emitter, event, fn])
  }
}

import {spawn, type ChildProcess} from 'node:child_process'
import {BIN, type Plakar} from './cli.js'

/**
 * plakar on a real pseudo-terminal: util-linux `script` (in every Debian, package bsdutils)
 * allocates the pty and copies our writes to its master side, so a "\x03" we send is turned
 * into SIGINT for the command by the kernel's line discipline, exactly as a Ctrl-C typed by a
 * user. (node-pty would need a native build; `script` needs nothing.)
 */
export class Terminal {
  readonly #child: ChildProcess
  #output = ''
  readonly #waiters: {pattern: RegExp; resolve: () => void}[] = []
  readonly exited: Promise<{code: number | null; at: number}>

  constructor(plakar: Plakar, args: string[], options: {env?: Record<string, string | undefined>; columns?: number} = {}) {
    const command = ['node', BIN, ...args].map(quote).join(' ')
    // stty first: a pty starts at 0x0, and a real terminal has a size.
    const shell = `stty cols ${options.columns ?? 100} rows 40; exec ${command}`
    this.#child = spawn('script', ['--quiet', '--flush', '--return', '--command', shell, '/dev/null'], {
      // A variable set to undefined is removed (to take the passphrase from a prompt, say).
      env: Object.fromEntries(Object.entries({...process.env, ...plakar.env, ...options.env, TERM: 'xterm'}).filter(([, v]) => v !== undefined)),
      cwd: plakar.home,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const collect = (chunk: Buffer) => {
      this.#output += chunk.toString('utf8')
      for (const w of [...this.#waiters]) {
        if (w.pattern.test(this.#output)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1)
          w.resolve()
        }
      }
    }
    this.#child.stdout!.on('data', collect)
    this.#child.stderr!.on('data', collect)
    this.exited = new Promise((resolve) => this.#child.on('exit', (code) => resolve({code, at: Date.now()})))
  }

  get output(): string {
    return this.#output
  }

  /** Resolves once the terminal has shown text matching `pattern`. */
  waitFor(pattern: RegExp): Promise<void> {
    if (pattern.test(this.#output)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#waiters.push({pattern, resolve})
      void this.exited.then(() => {
        if (!pattern.test(this.#output)) reject(new Error(`the command ended before printing ${pattern}:\n${this.#output}`))
      })
    })
  }

  /** Types on the keyboard; returns the time it was sent. */
  type(text: string): number {
    this.#child.stdin!.write(text)
    return Date.now()
  }

  /** Ctrl-C. */
  interrupt(): number {
    return this.type('\u0003')
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`
}

import {readFileSync} from 'node:fs'
import {AuthError, UsageError} from '@plakar/sdk'

/**
 * Where a passphrase comes from, in order: a store's passphrase_cmd, --keyfile,
 * $PLAKAR_PASSPHRASE, a hidden prompt on a terminal. It is never taken from the command line,
 * so it never shows in `ps`.
 */
export async function readPassphrase(options: {
  keyfile?: string
  command?: string
  confirm?: boolean
  env?: NodeJS.ProcessEnv
  /** The repository the passphrase is for, named in the prompt. */
  location?: string
  /** Printed before a prompt (create's warning that a lost passphrase means lost data). */
  beforePrompt?: () => void
  /** The whole prompt, instead of one naming `location`. */
  prompt?: string
}): Promise<Buffer> {
  const env = options.env ?? process.env
  if (options.command) return passphraseFromCommand(options.command)
  if (options.keyfile) {
    let text: Buffer
    try {
      text = readFileSync(options.keyfile)
    } catch (error) {
      throw new UsageError(`cannot read key file ${options.keyfile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    const trimmed = text.subarray(0, text.length - (text.at(-1) === 0x0a ? (text.at(-2) === 0x0d ? 2 : 1) : 0))
    if (trimmed.length === 0) throw new UsageError(`key file ${options.keyfile} is empty`)
    return Buffer.from(trimmed)
  }
  if (env.PLAKAR_PASSPHRASE !== undefined) {
    if (env.PLAKAR_PASSPHRASE === '') throw new UsageError('PLAKAR_PASSPHRASE is set but empty')
    return Buffer.from(env.PLAKAR_PASSPHRASE, 'utf8')
  }
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new AuthError('a passphrase is needed: set PLAKAR_PASSPHRASE, pass --keyfile FILE, or run on a terminal')
  }
  const {default: password} = await import('@inquirer/password')
  const context = {input: process.stdin, output: process.stderr, clearPromptOnDone: true}
  options.beforePrompt?.()
  const where = options.location ? ` for ${maskUserinfo(options.location)}` : ''
  const first = await password({message: options.prompt ?? `${options.confirm ? 'new passphrase' : 'passphrase'}${where}:`, mask: false}, context)
  if (options.confirm) {
    if (first.length === 0) throw new UsageError('the passphrase cannot be empty')
    const again = await password({message: `new passphrase${where} (again):`, mask: false}, context)
    if (again !== first) throw new UsageError('the passphrases do not match')
  }
  return Buffer.from(first, 'utf8')
}

/** Runs a store's passphrase_cmd through the shell (execa) and takes its first output line. */
async function passphraseFromCommand(command: string): Promise<Buffer> {
  const {execaCommand} = await import('execa')
  const result = await execaCommand(command, {shell: true, reject: false, stdin: 'inherit', stderr: 'inherit', stripFinalNewline: true})
  if (result.exitCode !== 0) throw new AuthError(`passphrase_cmd failed with exit code ${result.exitCode}`)
  const line = String(result.stdout).split('\n')[0]
  if (!line) throw new AuthError('passphrase_cmd printed nothing')
  return Buffer.from(line, 'utf8')
}

/** A location as a prompt may show it: a password in its user part (sftp://u:pw@h) masked. */
export function maskUserinfo(location: string): string {
  return location.replace(/^([a-z][\w+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
}

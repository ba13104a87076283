import {Flags} from '@oclif/core'
import {spawn} from 'node:child_process'
import {PlakarCommand} from '../cli/base-command.js'

export default class Ui extends PlakarCommand {
  static override summary = 'browse, preview and download backups in a web browser'
  static override description =
    'Serves a web interface to the repository on 127.0.0.1 and prints a link that logs the browser in (a random token of this run). Browse snapshots and folders, preview and download files, download folders as zip or tar.gz, search, compare and check. Runs until Ctrl-C.'
  static override examples = ['plakar ui', 'plakar ui --port 8080 --no-open', 'plakar at /backups/repo ui']
  static override flags = {
    port: Flags.integer({description: 'port on 127.0.0.1 (default: a free one)', min: 0, max: 65535, default: 0}),
    'no-open': Flags.boolean({description: 'print the link without opening a browser'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Ui)
    const repo = await this.openRepository()
    const {startUiServer} = await import('../ui/server.js')
    const server = await startUiServer(repo, {port: flags.port, logger: this.logger, concurrency: this.settings.concurrency})
    this.onExit(() => server.close())
    if (this.settings.json) this.printJson({url: server.loginUrl, port: server.port})
    else this.print(`plakar ui: open ${server.loginUrl} (Ctrl-C to stop)`)
    if (!flags['no-open']) openBrowser(server.loginUrl, (message) => this.logger.warn(message))
    // Serves until the first Ctrl-C / SIGTERM; stopping is the normal end of this command.
    await new Promise<void>((resolve) => {
      if (this.signal.aborted) resolve()
      else this.signal.addEventListener('abort', () => resolve(), {once: true})
    })
  }
}

/** The desktop's own opener; when there is none (a server, CI), the printed link is enough. */
function openBrowser(url: string, warn: (message: string) => void): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer.exe' : 'xdg-open'
  try {
    const child = spawn(command, [url], {stdio: 'ignore', detached: true})
    child.on('error', () => warn(`could not start a browser (${command}): open the link above yourself`))
    child.unref()
  } catch {
    warn(`could not start a browser (${command}): open the link above yourself`)
  }
}

/**
 * `plakar plugins install` speaks like the other commands (issue 12): one progress/result line,
 * npm's own output (here npm's warning about an install script) only with --debug, a failure
 * said in one line with its exit code; `plakar plugins` and `plakar plugins ls` say the same.
 * Real installs with the npm plakar ships, from a package directory (file:).
 */
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {scratch} from '../support/cli.js'
import {isolatedPlakar, lines, writePackage} from './helpers.js'

const work = scratch('plakar-plugin-install-')
afterAll(() => work.cleanup())

describe('plugins install output', () => {
  const plakar = isolatedPlakar(join(work.dir, 'home'))
  // An install script makes npm 11 print a four-line warning on every install.
  const noisy = () =>
    writePackage(join(work.dir, 'packages', 'noisy'), {
      name: '@acme/plakar-noisy',
      scripts: {postinstall: 'node -e "process.exit(0)"'},
      plakar: {contract: 1, connectors: []},
    })

  it('prints one line, and nothing of npm, when it works', async () => {
    const r = await plakar.ok(['plugins', 'install', `file:${await noisy()}`])
    expect(String(r.stdout)).toBe('')
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^plakar: Installing plugin file:.*noisy\.\.\. installed v1\.0\.0$/)])
  })

  it('shows npm\'s output with --debug', async () => {
    const r = await plakar.ok(['plugins', 'install', '--debug', `file:${await noisy()}`])
    expect(`${r.stdout}${r.stderr}`).toMatch(/npm (warn|verb|info)/)
  })

  it('says a failure in one line, with npm\'s reason and exit status 66 for nothing there', async () => {
    const r = await plakar.run(['plugins', 'install', `file:${join(work.dir, 'nowhere')}`])
    expect(r.exitCode, String(r.stderr)).toBe(66)
    expect(String(r.stdout)).toBe('')
    const err = lines(r.stderr).filter((l) => !/Installing plugin/.test(l))
    expect(err).toEqual([expect.stringMatching(/^plakar: cannot install file:.*nowhere: Could not read package\.json: ENOENT: .*\(run it again with --debug for npm's whole output\)$/)])
  })

  it('under --json, the failure is JSON', async () => {
    const r = await plakar.run(['plugins', 'install', '--json', `file:${join(work.dir, 'nowhere')}`])
    expect(r.exitCode).toBe(66)
    const [error] = lines(r.stderr).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown)
    expect(error).toEqual({error: expect.stringMatching(/^cannot install/), exitCode: 66})
  })

  it('plugins and plugins ls say the same thing', async () => {
    for (const extra of [[], ['--core'], ['--json']]) {
      const a = await plakar.ok(['plugins', ...extra])
      const b = await plakar.ok(['plugins', 'ls', ...extra])
      expect(String(a.stdout)).toBe(String(b.stdout))
      expect(String(a.stdout)).toMatch(/@acme\/plakar-noisy/)
    }
  })
})

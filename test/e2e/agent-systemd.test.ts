import {execa} from 'execa'
import {readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {BIN, ROOT, scratch} from '../support/cli.js'

/**
 * The systemd unit docs/agent.md shows is one systemd accepts: `systemd-analyze verify` with no
 * complaint at all (it only warns, exit 0, about a misspelt key or value). Where systemd is not
 * installed, the test says so and passes nothing off as checked.
 */
const s = scratch('plakar-systemd-')
afterAll(() => s.cleanup())

const analyze = await execa('systemd-analyze', ['--version'], {reject: false})
const available = analyze.exitCode === 0

describe.skipIf(!available)('the documented systemd unit', () => {
  it('passes systemd-analyze verify without a warning', async () => {
    const doc = readFileSync(join(ROOT, 'docs', 'agent.md'), 'utf8')
    const unit = /```ini\n([\s\S]*?)```/.exec(doc)?.[1]
    expect(unit, 'docs/agent.md shows the unit in an ini block').toBeDefined()
    expect(unit).toMatch(/ExecStart=\/usr\/bin\/plakar agent start --foreground --config /)
    // The unit names /usr/bin/plakar; here plakar is this checkout's bin/run.js.
    const plakar = join(s.dir, 'plakar')
    symlinkSync(BIN, plakar)
    const path = join(s.dir, 'plakar-agent.service')
    writeFileSync(path, unit!.replaceAll('/usr/bin/plakar', plakar))
    const r = await execa('systemd-analyze', ['verify', '--man=no', path], {reject: false, all: true})
    expect(r.all, String(r.all)).toBe('')
    expect(r.exitCode).toBe(0)
  })

  it('would catch a broken unit (the check can fail)', async () => {
    const path = join(s.dir, 'broken.service')
    writeFileSync(path, '[Service]\nType=simplex\nExecStart=/bin/true\n')
    const r = await execa('systemd-analyze', ['verify', '--man=no', path], {reject: false, all: true})
    expect(String(r.all)).toMatch(/simplex/)
  })
})

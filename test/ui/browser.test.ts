/**
 * The web UI in a real browser: Debian's Chromium driven by playwright-core, against
 * `plakar ui` started as a user would start it. Logs in through the printed link, browses into
 * a deep folder, previews text, code, Markdown, an image, a PDF and audio, downloads a file and
 * folder archives and compares their bytes with the source, searches, compares two versions,
 * runs a check, and takes the screenshots shown in the README (light and dark).
 */
/// <reference lib="dom" />
// page.evaluate() callbacks run in the browser: their `document` and `window` are the DOM's.
import {execa, type ResultPromise} from 'execa'
import {execFileSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {createGunzip} from 'node:zlib'
import {chromium, type BrowserContext, type Page} from 'playwright-core'
import tarStream from 'tar-stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {backup, setup} from '../e2e/helpers.js'
import {BIN, ROOT} from '../support/cli.js'
import {TreeBuilder} from '../support/tree.js'
import {pdf, png, wav} from './media.js'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : undefined
/** Waits for a value the page reaches when it has loaded: generous, as the machine may be busy. */
const until = <T>(fn: () => T | Promise<T>) => expect.poll(fn, {timeout: 90_000, interval: 50})
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('plakar ui in Chromium', () => {
  const env = setup('plakar-ui-browser-')
  const src = join(env.s.dir, 'src')
  const shots = SCREENSHOTS ?? join(env.s.dir, 'shots')
  const files = new Map<string, Buffer>()
  let first: string
  let second: string
  let ui: ResultPromise | undefined
  let link: string
  let origin: string
  let context: BrowserContext
  let page: Page
  const big = Buffer.from(Array.from({length: 20_000}, (_, i) => `line ${i} of a large log file\n`).join(''))

  const put = async (b: TreeBuilder, path: string, data: Buffer | string) => {
    files.set(path, Buffer.from(data))
    await b.file(path, data)
  }
  /** The id a page address names, and the snapshot path it shows. */
  const treeUrl = (id: string, path: string) => `${origin}/s/${id}/tree/${path.split('/').filter(Boolean).map(encodeURIComponent).join('/')}`

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), 'Debian chromium is installed by scripts/install-debian-packages.sh').toBe(true)
    mkdirSync(shots, {recursive: true})
    const b = new TreeBuilder(src)
    await put(b, 'projects/alpha/notes/deep/todo.txt', 'one\ntwo\nthree\n')
    await put(b, 'projects/alpha/notes/deep/budget 2024 (final).md', '# Budget\n\nThe *final* numbers.\n\n- rent\n- food\n')
    await put(b, 'projects/alpha/src/main.ts', 'export function greet(name: string): string {\n  return `hello ${name}`\n}\n')
    await put(b, 'projects/alpha/logo.png', png(64, 32, [220, 40, 40]))
    await put(b, 'projects/alpha/report.pdf', pdf('Quarterly report'))
    await put(b, 'projects/alpha/tone.wav', wav(0.5))
    await put(b, 'projects/alpha/data.bin', Buffer.concat([Buffer.from([0, 1, 2, 3, 0xff]), randomBytes(2000)]))
    await put(b, 'projects/alpha/big.log', big)
    await put(b, 'projects/beta/readme.txt', 'beta\n')
    await b.finish()
    await env.plakar.ok(env.at('create'))
    first = (await backup(env, ['--tag', 'daily', src])).id
    const todo = 'one\nTWO\nthree\nfour\n'
    await writeFile(join(src, 'projects/alpha/notes/deep/todo.txt'), todo)
    files.set('projects/alpha/notes/deep/todo.txt', Buffer.from(todo))
    second = (await backup(env, ['--tag', 'daily', src])).id

    ui = execa('node', [BIN, ...env.at('ui', '--no-open', '--json')], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home, buffer: false})
    const lines = createInterface({input: ui.stdout!})
    for await (const line of lines) {
      link = (JSON.parse(line) as {url: string}).url
      break
    }
    origin = new URL(link).origin
    context = await chromium.launchPersistentContext(join(env.s.dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: {width: 1200, height: 800},
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    // Every wait is for an element or an event; the timeout only bounds a broken run.
    context.setDefaultTimeout(90_000)
    page = context.pages()[0] ?? (await context.newPage())
    page.on('pageerror', (e) => console.error('page error:', e.message))
  })

  afterAll(async () => {
    await context?.close()
    if (ui) {
      ui.kill('SIGTERM')
      await ui
    }
    env.s.cleanup()
  })

  it('prints a link on 127.0.0.1; without it or with a wrong token there is no data', async () => {
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?token=[\w-]{32,}$/)
    const res = await page.goto(`${origin}/login?token=wrong`)
    expect(res!.status()).toBe(401)
    await page.goto(`${origin}/`)
    await page.getByRole('heading', {name: 'Not logged in'}).waitFor()
    const api = await page.request.get(`${origin}/api/snapshots`)
    expect(api.status()).toBe(401)
    expect(await api.text()).not.toContain(first)
  })

  it('logs in through the link and lists the snapshots', async () => {
    await page.goto(link)
    await page.waitForURL(`${origin}/`)
    const rows = page.locator('table.snapshots tbody tr')
    await until(() => rows.count()).toBe(2)
    // Newest first.
    expect(await rows.nth(0).getAttribute('data-id')).toBe(second)
    expect(await rows.nth(1).textContent()).toContain('daily')
    const cookies = await context.cookies(origin)
    expect(cookies.find((c) => c.name.startsWith('plakar_session_'))).toMatchObject({httpOnly: true, sameSite: 'Strict'})
    await page.screenshot({path: join(shots, 'snapshots-light.png')})
  })

  it('browses into a deep folder by clicks; the address survives a reload; keys move and open', async () => {
    await page.locator(`tr[data-id="${second}"] a.row-link`).click()
    await page.waitForURL(treeUrl(second, src))
    expect(await page.locator('#snapshot-line').textContent()).toMatch(new RegExp(`^Snapshot ${second.slice(0, 8)} of ${src}, .* on \\S+ by \\S+ daily$`))
    for (const name of ['projects', 'alpha', 'notes', 'deep']) {
      await page.locator('table.entries a.row-link', {hasText: new RegExp(`^${name}$`)}).click()
      await page.locator('h1.name', {hasText: name}).waitFor()
    }
    const deep = `${src}/projects/alpha/notes/deep`
    expect(page.url()).toBe(treeUrl(second, deep))
    await until(() => page.locator('nav.crumbs a').allTextContents()).toEqual(['Snapshots', `${second.slice(0, 8)}:${src}`, 'projects', 'alpha', 'notes'])
    await page.reload()
    await page.locator('table.entries a.row-link', {hasText: 'todo.txt'}).waitFor()
    expect(await page.locator('#dir-summary').textContent()).toContain('2 files')
    // Keyboard: the first row has focus; Down moves, Enter opens, Backspace comes back.
    await page.keyboard.press('ArrowDown')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('todo.txt')
    await page.keyboard.press('Enter')
    await page.waitForURL(treeUrl(second, `${deep}/todo.txt`))
    await page.goBack()
    await page.locator('table.entries a.row-link').first().waitFor()
    await page.locator('table.entries a.row-link').first().focus()
    await page.keyboard.press('Backspace')
    await page.waitForURL(treeUrl(second, `${src}/projects/alpha/notes`))
  })

  it('previews text with highlighting, Markdown rendered, an image, a PDF, audio, a large file partly, a binary described', async () => {
    const alpha = `${src}/projects/alpha`
    await page.goto(treeUrl(second, `${alpha}/src/main.ts`))
    await page.locator('#preview code[data-highlighted="typescript"] .hljs-keyword').first().waitFor()
    expect(await page.locator('#preview code').textContent()).toBe(files.get('projects/alpha/src/main.ts')!.toString())
    await page.screenshot({path: join(shots, 'preview-code-light.png')})

    await page.goto(treeUrl(second, `${alpha}/notes/deep/budget 2024 (final).md`))
    await page.locator('#preview .markdown h1', {hasText: 'Budget'}).waitFor()
    expect(await page.locator('#preview .markdown em').textContent()).toBe('final')

    await page.goto(treeUrl(second, `${alpha}/logo.png`))
    const img = page.locator('#preview img')
    await until(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(64)

    await page.goto(treeUrl(second, `${alpha}/report.pdf`))
    await page.locator('#preview canvas.pdf-page[data-rendered="true"]').waitFor()
    expect(await page.locator('#pdf-status').textContent()).toBe('1 page')
    // Not blank: the text was drawn.
    const dark = await page.locator('#preview canvas.pdf-page').evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
      let n = 0
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++
      return n
    })
    expect(dark).toBeGreaterThan(50)
    await page.screenshot({path: join(shots, 'preview-pdf-light.png')})

    await page.goto(treeUrl(second, `${alpha}/tone.wav`))
    const audio = page.locator('#preview audio')
    await until(() => audio.evaluate((el: HTMLAudioElement) => el.readyState >= 1 && Math.round(el.duration * 10))).toBe(5)

    await page.goto(treeUrl(second, `${alpha}/big.log`))
    await page.locator('#partial-note').waitFor()
    const shown = await page.locator('#preview code').textContent()
    expect(shown!.length).toBe(256 * 1024)
    expect(big.subarray(0, 256 * 1024).toString()).toBe(shown)

    await page.goto(treeUrl(second, `${alpha}/data.bin`))
    await page.locator('#binary-description').waitFor()
    expect(await page.locator('#binary-description .hexdump').textContent()).toMatch(/^00000000 {2}00 01 02 03 ff/)
  })

  it('downloads a file and a folder (zip and tar.gz) with the bytes of the source', async () => {
    await page.goto(treeUrl(second, `${src}/projects/alpha/report.pdf`))
    const [file] = await Promise.all([page.waitForEvent('download'), page.locator('#download-file').click()])
    expect(file.suggestedFilename()).toBe('report.pdf')
    expect(readFileSync((await file.path())!).equals(files.get('projects/alpha/report.pdf')!)).toBe(true)

    await page.goto(treeUrl(second, `${src}/projects`))
    const [zip] = await Promise.all([page.waitForEvent('download'), page.locator('#download-zip').click()])
    expect(zip.suggestedFilename()).toBe('projects.zip')
    const zipPath = join(env.s.dir, 'projects.zip')
    copyFileSync((await zip.path())!, zipPath)
    // Python's zipfile: an independent reader of the format.
    const listing = JSON.parse(
      execFileSync('python3', ['-c', 'import sys,zipfile,json,hashlib;z=zipfile.ZipFile(sys.argv[1]);print(json.dumps({i.filename:hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist() if not i.is_dir()}))', zipPath], {encoding: 'utf8'}),
    ) as Record<string, string>
    const expected = Object.fromEntries([...files].map(([p, data]) => [p, sha(data)]))
    expect(listing).toEqual(expected)

    const [tgz] = await Promise.all([page.waitForEvent('download'), page.locator('#download-tgz').click()])
    expect(tgz.suggestedFilename()).toBe('projects.tar.gz')
    const got: Record<string, string> = {}
    const tgzPath = (await tgz.path())!
    const extract = tarStream.extract()
    await new Promise<void>((resolve, reject) => {
      extract.on('entry', (header, body, next) => {
        const h = createHash('sha256')
        body.on('data', (d: Buffer) => h.update(d))
        body.on('end', () => {
          if (header.type === 'file') got[header.name] = h.digest('hex')
          next()
        })
      })
      extract.on('finish', resolve)
      extract.on('error', reject)
      createReadStream(tgzPath).pipe(createGunzip()).pipe(extract)
    })
    expect(got).toEqual(expected)
  })

  it('searches by name and by type', async () => {
    await page.goto(treeUrl(second, src))
    await page.locator('#search-name').fill('budget')
    await page.locator('#search-name').press('Enter')
    await page.waitForURL(/\/search\?/)
    await until(() => page.locator('ul.results a').allTextContents()).toEqual(['budget 2024 (final).md'])
    await page.locator('#search-name').fill('')
    await page.locator('#search-type').selectOption('image/')
    await page.locator('form.search button[type=submit]').click()
    await until(() => page.locator('ul.results a').allTextContents()).toEqual(['logo.png'])
    await page.locator('ul.results a').click()
    await page.locator('#preview img').waitFor()
  })

  it('compares two versions of a file from its history, and two snapshots', async () => {
    const todo = `${src}/projects/alpha/notes/deep/todo.txt`
    await page.goto(treeUrl(second, todo))
    await page.locator('#file-history').click()
    await page.locator('#history-summary', {hasText: '2 distinct versions in 2 snapshots'}).waitFor()
    await page.locator('table.history input[type=checkbox]').nth(0).check()
    await page.locator('table.history input[type=checkbox]').nth(1).check()
    await page.locator('#compare-versions').click()
    await page.locator('#patch').waitFor()
    expect(await page.locator('#patch div.del').allTextContents()).toEqual(['-two'])
    expect(await page.locator('#patch div.add').allTextContents()).toEqual(['+TWO', '+four'])
    await page.screenshot({path: join(shots, 'diff-light.png')})

    await page.goto(`${origin}/`)
    await page.locator(`tr[data-id="${first}"] input[type=checkbox]`).check()
    await page.locator(`tr[data-id="${second}"] input[type=checkbox]`).check()
    await page.locator('#compare-snapshots').click()
    await until(() => page.locator('ul.changes li').allTextContents()).toEqual([expect.stringMatching(/^~ \/projects\/alpha\/notes\/deep\/todo\.txt/)])
  })

  it('checks a snapshot and shows its progress and result', async () => {
    await page.goto(`${origin}/s/${second}/check`)
    await page.locator('#start-check').click()
    await page.locator('#check-status[data-state="done"]').waitFor()
    expect(await page.locator('#check-result').textContent()).toMatch(/^OK: 9 files, .* read and verified\.$/)
  })

  it('refuses a path with "..", and an id of another repository', async () => {
    const bad = await page.request.get(`${origin}/api/snapshots/${second}/entry?path=${encodeURIComponent(`${src}/../etc`)}`)
    expect(bad.status()).toBe(400)
    const other = randomBytes(32).toString('hex')
    const missing = await page.request.get(`${origin}/api/snapshots/${other}/entry`)
    expect(missing.status()).toBe(404)
    await page.goto(`${origin}/s/${other}/tree/etc`)
    await page.locator('.error', {hasText: `no snapshot ${other}`}).waitFor()
  })

  it('has a dark mode and stays usable in a narrow window', async () => {
    await page.goto(`${origin}/`)
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    const light = await bg()
    await page.locator('#theme-toggle').click() // auto -> light
    await page.locator('#theme-toggle').click() // light -> dark
    await until(bg).not.toBe(light)
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark')
    await page.locator('table.snapshots tbody tr').first().waitFor()
    await page.screenshot({path: join(shots, 'snapshots-dark.png')})
    await page.goto(treeUrl(second, `${src}/projects/alpha`))
    await page.locator('table.entries a.row-link').first().waitFor()
    await page.screenshot({path: join(shots, 'folder-dark.png')})
    await page.goto(treeUrl(second, `${src}/projects/alpha/src/main.ts`))
    await page.locator('#preview code .hljs-keyword').first().waitFor()
    await page.screenshot({path: join(shots, 'preview-code-dark.png')})
    // The choice is remembered across a reload.
    await page.reload()
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark')

    await page.setViewportSize({width: 380, height: 800})
    await page.goto(treeUrl(second, `${src}/projects/alpha`))
    await page.locator('table.entries a.row-link').first().waitFor()
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    expect(await page.locator('table.entries th', {hasText: 'Modified'}).isVisible()).toBe(false)
    await page.screenshot({path: join(shots, 'folder-narrow-dark.png')})
    await page.locator('#theme-toggle').click() // dark -> auto
    await page.setViewportSize({width: 1200, height: 800})
    await page.goto(treeUrl(second, `${src}/projects/alpha`))
    await page.locator('table.entries a.row-link').first().waitFor()
    await page.screenshot({path: join(shots, 'folder-light.png')})
  })

  it('stops on SIGTERM and the link stops working', async () => {
    ui!.kill('SIGTERM')
    const r = await ui!
    expect(r.exitCode).toBe(143)
    ui = undefined
    await expect(fetch(link)).rejects.toThrow()
  })
})

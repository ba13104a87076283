/**
 * `plakar ui` on remote repositories, in a real browser (Debian's Chromium through
 * playwright-core): a repository on S3 (real radosgw) and one on SFTP (real sshd), each backed up
 * and opened with `plakar ui` as a user would; the browser logs in through the printed link,
 * browses to a folder, previews text and a video, and downloads a file whose bytes are compared
 * with the source.
 *
 * The video is a real one, made by the browser itself (a canvas recorded by MediaRecorder into
 * WebM/VP8): the project keeps no binary fixtures and the machine has no ffmpeg. Chromium's
 * media player fetches it with range requests ("Range: bytes=…", answered 206 with a
 * Content-Range) and decodes frames of it; a range in the middle of the file is compared with
 * the source bytes.
 */
/// <reference lib="dom" />
import {execa, type ResultPromise} from 'execa'
import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {chromium, type BrowserContext, type Page, type Request} from 'playwright-core'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {accessKey, describeS3, hostPort, secretKey, uniqueName} from '../../plugins/s3/test/s3.js'
import {setup, userPlakar, type Env} from '../e2e/helpers.js'
import {BIN} from '../support/cli.js'
import {TreeBuilder} from '../support/tree.js'

const CHROMIUM = '/usr/bin/chromium'
const until = <T>(fn: () => T | Promise<T>) => expect.poll(fn, {timeout: 90_000, interval: 50})

/** Records `frames` frames of a changing canvas with the browser's MediaRecorder: WebM bytes. */
async function recordVideo(page: Page, frames: number): Promise<Buffer> {
  await page.goto('about:blank')
  const base64 = await page.evaluate(async (count: number) => {
    const canvas = document.createElement('canvas')
    canvas.width = 320
    canvas.height = 240
    document.body.append(canvas)
    const g = canvas.getContext('2d')!
    const recorder = new MediaRecorder(canvas.captureStream(25), {mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 4_000_000})
    const parts: Blob[] = []
    recorder.ondataavailable = (e) => parts.push(e.data)
    const stopped = new Promise((resolve) => (recorder.onstop = resolve))
    recorder.start()
    // Noise, so that the file is large enough for a player to read it in ranges.
    const image = g.createImageData(canvas.width, canvas.height)
    await new Promise<void>((resolve) => {
      let n = 0
      const draw = () => {
        for (let i = 0; i < image.data.length; i += 4) {
          image.data[i] = (Math.random() * 256) | 0
          image.data[i + 1] = (n * 5) & 255
          image.data[i + 2] = (Math.random() * 256) | 0
          image.data[i + 3] = 255
        }
        g.putImageData(image, 0, 0)
        if (++n < count) requestAnimationFrame(draw)
        else resolve()
      }
      requestAnimationFrame(draw)
    })
    recorder.stop()
    await stopped
    const bytes = new Uint8Array(await new Blob(parts).arrayBuffer())
    let s = ''
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
    return btoa(s)
  }, frames)
  return Buffer.from(base64, 'base64')
}

describeS3('plakar ui on S3 (radosgw) and SFTP (sshd) repositories, in Chromium', () => {
  let env: Env
  let context: BrowserContext
  let page: Page
  let src: string
  let video: Buffer
  const files = new Map<string, Buffer>()
  const bucket = uniqueName('plakar-ui')

  const sftpRepo = () => {
    const {SFTP_PORT, SFTP_USER, SFTP_ROOT, SFTP_KEY, SFTP_KNOWN_HOSTS} = process.env
    if (!SFTP_PORT || !SFTP_ROOT || !SFTP_KEY || !SFTP_KNOWN_HOSTS) throw new Error('the sshd test service is not running (PLAKAR_TEST_SERVICES must include sshd)')
    const dir = join(SFTP_ROOT, `ui-${randomBytes(4).toString('hex')}`)
    return {location: `sftp://${SFTP_USER ?? 'root'}@127.0.0.1:${SFTP_PORT}${dir}`, options: ['-o', `identity=${SFTP_KEY}`, '-o', `known_hosts=${SFTP_KNOWN_HOSTS}`]}
  }

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), 'Debian chromium is installed by scripts/install-debian-packages.sh').toBe(true)
    env = setup('plakar-ui-remote-')
    env.plakar = userPlakar(env.s.dir, {AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_REGION: 'us-east-1', SSH_AUTH_SOCK: undefined as unknown as string})
    context = await chromium.launchPersistentContext(join(env.s.dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: {width: 1200, height: 800},
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
    })
    context.setDefaultTimeout(90_000)
    page = context.pages()[0] ?? (await context.newPage())
    page.on('pageerror', (e) => console.error('page error:', e.message))
    video = await recordVideo(page, 60)
    src = join(env.s.dir, 'src')
    const b = new TreeBuilder(src)
    const put = async (path: string, data: Buffer | string) => {
      files.set(path, Buffer.from(data))
      await b.file(path, data)
    }
    await put('media/clip.webm', video)
    await put('media/notes.txt', 'filmed on a canvas\n')
    await put('docs/report.bin', randomBytes(3 * 1024 * 1024 + 17))
    await b.finish()
  }, 300_000)

  afterAll(async () => {
    await context?.close()
    env?.s.cleanup()
  })

  for (const kind of ['S3', 'SFTP'] as const) {
    it(`${kind}: logs in, browses, previews text and a video (range requests), downloads a file bit-exact`, {timeout: 600_000}, async () => {
      const repo = kind === 'S3' ? {location: `s3://${hostPort}/${bucket}/repo`, options: ['-o', 'use_tls=false']} : sftpRepo()
      const at = (...args: string[]) => ['at', repo.location, ...repo.options, ...args]
      await env.plakar.ok(at('create'))
      const id = (await env.plakar.json<{id: string}>(at('backup', '--json', src))).id
      let ui: ResultPromise | undefined
      try {
        ui = execa('node', [BIN, ...at('ui', '--no-open', '--json')], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home, buffer: false})
        let link = ''
        for await (const line of createInterface({input: ui.stdout!})) {
          link = (JSON.parse(line) as {url: string}).url
          break
        }
        expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?token=/)
        const origin = new URL(link).origin
        const treeUrl = (path: string) => `${origin}/s/${id}/tree/${path.split('/').filter(Boolean).map(encodeURIComponent).join('/')}`

        await page.goto(link)
        await page.waitForURL(`${origin}/`)
        await until(() => page.locator('table.snapshots tbody tr').count()).toBe(1)
        await page.locator(`tr[data-id="${id}"] a.row-link`).click()
        await page.waitForURL(treeUrl(src))
        await page.locator('table.entries a.row-link', {hasText: /^media$/}).click()
        await page.locator('h1.name', {hasText: 'media'}).waitFor()
        expect(page.url()).toBe(treeUrl(`${src}/media`))

        await page.goto(treeUrl(`${src}/media/notes.txt`))
        await until(() => page.locator('#preview code').textContent()).toBe('filmed on a canvas\n')

        // The player's requests for the video, with their Range headers and answers.
        const media: {request: Request; range?: string; status?: number; contentRange?: string}[] = []
        const onRequest = (request: Request) => {
          if (request.resourceType() !== 'media') return
          const seen: (typeof media)[number] = {request}
          media.push(seen)
          void request.allHeaders().then((h) => (seen.range = h.range))
          void request.response().then(async (r) => {
            seen.status = r?.status()
            seen.contentRange = r ? await r.headerValue('content-range') ?? undefined : undefined
          })
        }
        page.on('request', onRequest)
        try {
          await page.goto(treeUrl(`${src}/media/clip.webm`))
          const player = page.locator('#preview video')
          // Frames decoded: the player has data for the current position (HAVE_CURRENT_DATA).
          await until(() => player.evaluate((v: HTMLVideoElement) => v.readyState >= 2 && v.videoWidth)).toBe(320)
          expect(await player.evaluate((v: HTMLVideoElement) => v.error)).toBeNull()
          await until(() => media.filter((m) => m.range !== undefined && m.status === 206).length).toBeGreaterThan(0)
          const ranged = media.find((m) => m.status === 206)!
          expect(ranged.range).toMatch(/^bytes=\d+-\d*$/)
          expect(ranged.contentRange).toMatch(new RegExp(`^bytes \\d+-\\d+/${video.length}$`))
          // A range in the middle, through the same signed URL: the source's bytes.
          const start = Math.floor(video.length / 2)
          const slice = await page.evaluate(
            async ([url, from]) => {
              const r = await fetch(url, {headers: {Range: `bytes=${from}-${from + 4095}`}})
              return {status: r.status, range: r.headers.get('content-range'), bytes: Array.from(new Uint8Array(await r.arrayBuffer()))}
            },
            [ranged.request.url(), start] as const,
          )
          expect(slice.status).toBe(206)
          expect(slice.range).toBe(`bytes ${start}-${start + 4095}/${video.length}`)
          expect(Buffer.from(slice.bytes).equals(video.subarray(start, start + 4096))).toBe(true)
          process.stdout.write(`figure: ${kind}: video of ${video.length} bytes previewed with ${media.length} media requests, ${media.filter((m) => m.status === 206).length} answered 206 (${media.map((m) => m.range).join(', ')})\n`)
        } finally {
          page.off('request', onRequest)
        }

        await page.goto(treeUrl(`${src}/docs/report.bin`))
        const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-file').click()])
        expect(download.suggestedFilename()).toBe('report.bin')
        expect(readFileSync((await download.path())!).equals(files.get('docs/report.bin')!)).toBe(true)
      } finally {
        if (ui) {
          ui.kill('SIGTERM')
          await ui
        }
      }
    })
  }
})

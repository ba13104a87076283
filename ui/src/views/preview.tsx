import DOMPurify from 'dompurify'
import hljs from 'highlight.js/lib/common'
import {marked} from 'marked'
import {useEffect, useRef, useState} from 'preact/hooks'
import type {EntryInfo} from '../api'
import {bytes} from '../format'

/** Text previews read at most this much (a Range request): a 2 GB log shows its beginning at once. */
export const TEXT_PREVIEW_BYTES = 256 * 1024

const LANGUAGES: Record<string, string> = {
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascript', ts: 'typescript', tsx: 'typescript', json: 'json', py: 'python', rb: 'ruby', go: 'go',
  rs: 'rust', c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', hpp: 'cpp', cs: 'csharp', java: 'java', kt: 'kotlin', swift: 'swift', php: 'php', pl: 'perl', lua: 'lua',
  sh: 'bash', bash: 'bash', zsh: 'bash', css: 'css', scss: 'scss', less: 'less', html: 'xml', htm: 'xml', xml: 'xml', svg: 'xml', yml: 'yaml', yaml: 'yaml',
  toml: 'ini', ini: 'ini', cfg: 'ini', conf: 'ini', sql: 'sql', diff: 'diff', patch: 'diff', makefile: 'makefile', mk: 'makefile', r: 'r', graphql: 'graphql',
  dockerfile: 'dockerfile', vb: 'vbnet', m: 'objectivec',
}

function extension(name: string): string {
  const lower = name.toLowerCase()
  if (lower === 'makefile' || lower === 'dockerfile') return lower
  const dot = lower.lastIndexOf('.')
  return dot > 0 ? lower.slice(dot + 1) : ''
}

type Kind = 'image' | 'video' | 'audio' | 'pdf' | 'markdown' | 'text' | 'unknown'

function kindOf(entry: EntryInfo): Kind {
  const t = (entry.contentType ?? '').toLowerCase()
  const ext = extension(entry.name)
  // Source code by its extension first: a ".ts" file is TypeScript far more often than the
  // MPEG transport stream its MIME type says.
  if (LANGUAGES[ext] && ext !== 'svg') return 'text'
  if (t.startsWith('image/')) return 'image'
  if (t.startsWith('video/')) return 'video'
  if (t.startsWith('audio/')) return 'audio'
  if (t === 'application/pdf' || ext === 'pdf') return 'pdf'
  if (ext === 'md' || ext === 'markdown' || t === 'text/markdown') return 'markdown'
  if (t.startsWith('text/') || LANGUAGES[ext] || /json|xml|javascript|yaml|toml|x-sh/.test(t)) return 'text'
  return 'unknown'
}

/** The file shown the way it is meant to be seen, streamed from its signed URL. */
export function Preview({entry, url}: {entry: EntryInfo; url: string}) {
  const kind = kindOf(entry)
  return (
    <div class="preview" data-kind={kind} id="preview">
      {kind === 'image' ? <img src={url} alt={entry.name} /> : null}
      {kind === 'video' ? <video src={url} controls preload="metadata" /> : null}
      {kind === 'audio' ? <audio src={url} controls preload="metadata" /> : null}
      {kind === 'pdf' ? <PdfPreview url={url} /> : null}
      {kind === 'markdown' || kind === 'text' || kind === 'unknown' ? <TextPreview entry={entry} url={url} kind={kind} /> : null}
    </div>
  )
}

async function head(url: string, length: number): Promise<Uint8Array> {
  if (length === 0) return new Uint8Array()
  const res = await fetch(url, {headers: {Range: `bytes=0-${length - 1}`}})
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`)
  return new Uint8Array(await res.arrayBuffer())
}

function isBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8192)
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true
  return false
}

function TextPreview({entry, url, kind}: {entry: EntryInfo; url: string; kind: Kind}) {
  const [state, setState] = useState<{text?: string; binary?: Uint8Array; error?: string}>({})
  const [rendered, setRendered] = useState(true)
  useEffect(() => {
    let live = true
    setState({})
    head(url, Math.min(entry.size, TEXT_PREVIEW_BYTES)).then(
      (data) => {
        if (!live) return
        if (isBinary(data)) setState({binary: data.subarray(0, 512)})
        else setState({text: new TextDecoder('utf-8', {fatal: false}).decode(data)})
      },
      (e: Error) => live && setState({error: e.message}),
    )
    return () => {
      live = false
    }
  }, [url])
  if (state.error) return <p class="error">Could not read the file: {state.error}</p>
  if (state.binary) return <Binary entry={entry} data={state.binary} />
  if (state.text === undefined) return <p class="muted">Loading…</p>
  const partial = entry.size > TEXT_PREVIEW_BYTES
  const note = partial ? (
    <p class="note" id="partial-note">
      Showing the first {bytes(TEXT_PREVIEW_BYTES)} of {bytes(entry.size)}. Download the file to see all of it.
    </p>
  ) : null
  if (kind === 'markdown' && rendered) {
    return (
      <>
        {note}
        <div class="toggle">
          <button type="button" onClick={() => setRendered(false)}>
            Show source
          </button>
        </div>
        <Markdown text={state.text} />
      </>
    )
  }
  const language = LANGUAGES[extension(entry.name)] ?? (kind === 'markdown' ? 'markdown' : undefined)
  return (
    <>
      {note}
      {kind === 'markdown' ? (
        <div class="toggle">
          <button type="button" onClick={() => setRendered(true)}>
            Show rendered
          </button>
        </div>
      ) : null}
      <Code text={state.text} language={language} />
    </>
  )
}

function Code({text, language}: {text: string; language?: string}) {
  const ref = useRef<HTMLElement>(null)
  useEffect(() => {
    if (!ref.current) return
    // highlight.js escapes the text it is given and only adds <span class="hljs-…">.
    if (language && hljs.getLanguage(language) && text.length <= TEXT_PREVIEW_BYTES) {
      ref.current.innerHTML = hljs.highlight(text, {language, ignoreIllegals: true}).value
      ref.current.dataset.highlighted = language
    } else {
      ref.current.textContent = text
      delete ref.current.dataset.highlighted
    }
  }, [text, language])
  return (
    <pre class="code">
      <code ref={ref} class="hljs" />
    </pre>
  )
}

function Markdown({text}: {text: string}) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!ref.current) return
    const html = marked.parse(text, {async: false, gfm: true}) as string
    // Sanitized: a README from a backup must not run anything in this page (CSP is the second wall).
    ref.current.innerHTML = DOMPurify.sanitize(html, {USE_PROFILES: {html: true}, FORBID_TAGS: ['style', 'form', 'input'], FORBID_ATTR: ['style']})
  }, [text])
  return <div class="markdown" ref={ref} />
}

function Binary({entry, data}: {entry: EntryInfo; data: Uint8Array}) {
  const lines: string[] = []
  for (let off = 0; off < data.length; off += 16) {
    const row = data.subarray(off, off + 16)
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ')
    const ascii = [...row].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('')
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`)
  }
  return (
    <div class="binary" id="binary-description">
      <p>
        A binary file ({entry.contentType ?? 'unknown type'}, {bytes(entry.size)}). No preview for this type: download it to open it. Its first {data.length} bytes:
      </p>
      <pre class="hexdump">{lines.join('\n')}</pre>
    </div>
  )
}

/**
 * PDF.js, loaded only when a PDF is shown. It reads the file with range requests, so the first
 * pages of a large PDF appear before the rest is fetched; pages render as the reader scrolls.
 */
function PdfPreview({url}: {url: string}) {
  const ref = useRef<HTMLDivElement>(null)
  const [status, setStatus] = useState<string>('Loading PDF…')
  useEffect(() => {
    let cancelled = false
    let destroy: (() => void) | undefined
    ;(async () => {
      const pdfjs = await import('pdfjs-dist')
      const worker = (await import('pdfjs-dist/build/pdf.worker.min.mjs?url')).default
      pdfjs.GlobalWorkerOptions.workerSrc = worker
      const task = pdfjs.getDocument({url: new URL(url, window.location.href).href, isEvalSupported: false, rangeChunkSize: 256 * 1024, disableAutoFetch: true})
      destroy = () => void task.destroy()
      const doc = await task.promise
      if (cancelled) return
      const pages = Math.min(doc.numPages, 50)
      setStatus(`${doc.numPages} page${doc.numPages === 1 ? '' : 's'}${doc.numPages > pages ? ` (showing the first ${pages})` : ''}`)
      const width = Math.min(ref.current?.clientWidth || 800, 1000)
      for (let n = 1; n <= pages && !cancelled; n++) {
        const page = await doc.getPage(n)
        const base = page.getViewport({scale: 1})
        const viewport = page.getViewport({scale: (width / base.width) * (window.devicePixelRatio || 1)})
        const canvas = document.createElement('canvas')
        canvas.width = viewport.width
        canvas.height = viewport.height
        canvas.className = 'pdf-page'
        canvas.dataset.page = String(n)
        canvas.setAttribute('aria-label', `Page ${n}`)
        ref.current?.appendChild(canvas)
        await page.render({canvas, viewport}).promise
        canvas.dataset.rendered = 'true'
      }
    })().catch((e: Error) => !cancelled && setStatus(`Could not show this PDF: ${e.message}`))
    return () => {
      cancelled = true
      destroy?.()
      if (ref.current) ref.current.textContent = ''
    }
  }, [url])
  return (
    <div class="pdf">
      <p class="muted" id="pdf-status">
        {status}
      </p>
      <div ref={ref} class="pdf-pages" />
    </div>
  )
}

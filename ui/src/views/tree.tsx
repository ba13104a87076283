import {useEffect, useRef, useState} from 'preact/hooks'
import {api, type DirectoryPage, type EntryDetail, type EntryInfo} from '../api'
import {bytes, contents, count, date, mode, short} from '../format'
import {href, navigate} from '../router'
import {ErrorLine, useLoad} from '../util'
import {Crumbs} from './crumbs'
import {Preview} from './preview'

const PAGE = 200

/** A folder or a file of a snapshot, by its address. */
export function Tree({id, path}: {id: string; path?: string}) {
  const {data, error} = useLoad(() => api.entry(id, path), [id, path])
  useEffect(() => {
    // The bare snapshot address shows its root: keep one address per view.
    if (path === undefined && data) navigate(href.tree(id, data.path), true)
  }, [data, path])
  if (error) return <ErrorLine error={error} />
  if (!data) return <p class="muted">Loading…</p>
  return data.type === 'directory' ? <Directory id={id} entry={data} /> : <FileView id={id} entry={data} />
}

type IconKind = 'folder' | 'link' | 'image' | 'video' | 'audio' | 'pdf' | 'text' | 'file' | 'damaged'

function iconKind(e: EntryInfo): IconKind {
  if (e.error) return 'damaged'
  if (e.type === 'directory') return 'folder'
  if (e.type === 'symlink') return 'link'
  const t = e.contentType ?? ''
  if (t.startsWith('image/')) return 'image'
  if (t.startsWith('video/')) return 'video'
  if (t.startsWith('audio/')) return 'audio'
  if (t === 'application/pdf') return 'pdf'
  if (t.startsWith('text/')) return 'text'
  return 'file'
}

/** Drawn, not emoji: emoji fonts are missing on many Linux desktops and servers. */
function Icon({entry}: {entry: EntryInfo}) {
  const kind = iconKind(entry)
  const shape =
    kind === 'folder' ? (
      <path d="M1.5 3.5h4l1.5 1.5h7.5v8h-13z" />
    ) : kind === 'link' ? (
      <path d="M3 12c0-4 2.5-6.5 7-6.5V3l4 4-4 4V8.5c-3 0-5 1-7 3.5z" />
    ) : (
      <path d="M3 1.5h6.5l3.5 3.5v9.5H3z" />
    )
  return (
    <svg class={`icon icon-${kind}`} viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
      {shape}
    </svg>
  )
}

function Directory({id, entry}: {id: string; entry: EntryDetail}) {
  const [pages, setPages] = useState<DirectoryPage[]>([])
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(false)
  const listRef = useRef<HTMLTableSectionElement>(null)
  const load = (after?: string) => {
    setLoading(true)
    api.children(id, entry.path, after, PAGE).then(
      (page) => {
        setPages((p) => (after ? [...p, page] : [page]))
        setLoading(false)
      },
      (e: Error) => {
        setError(e.message)
        setLoading(false)
      },
    )
  }
  useEffect(() => {
    setPages([])
    setError(undefined)
    load()
  }, [id, entry.path])
  const entries = pages.flatMap((p) => p.entries)
  const next = pages.at(-1)?.next
  const s = entry.summary
  const total = s ? s.direct.files + s.direct.directories + s.direct.symlinks + s.direct.others + s.direct.errors : undefined
  const parent = entry.path === '/' ? undefined : entry.path.slice(0, entry.path.lastIndexOf('/')) || '/'

  // Arrow keys move between rows, Enter opens (the row is a link), Backspace goes up.
  const onKey = (e: KeyboardEvent) => {
    const rows = [...(listRef.current?.querySelectorAll<HTMLAnchorElement>('a.row-link') ?? [])]
    const at = rows.indexOf(document.activeElement as HTMLAnchorElement)
    if (e.key === 'ArrowDown' || e.key === 'j') {
      rows[Math.min(rows.length - 1, at + 1)]?.focus()
      e.preventDefault()
    } else if (e.key === 'ArrowUp' || e.key === 'k') {
      rows[Math.max(0, at - 1)]?.focus()
      e.preventDefault()
    } else if ((e.key === 'Backspace' || (e.key === 'ArrowLeft' && e.altKey)) && parent && entry.path !== entry.root) {
      navigate(href.tree(id, parent))
      e.preventDefault()
    }
  }
  useEffect(() => {
    // The first row takes the keyboard only if nothing else has it: someone who started typing a
    // search while the listing loaded keeps their focus (and their Enter goes to the search).
    const idle = !document.activeElement || document.activeElement === document.body
    if (pages.length === 1 && idle) listRef.current?.querySelector<HTMLAnchorElement>('a.row-link')?.focus({preventScroll: true})
  }, [pages.length === 1])

  return (
    <section>
      <Crumbs id={id} path={entry.path} root={entry.root} />
      <div class="titlebar">
        <h1 class="name">{entry.path === '/' ? '/' : entry.name}</h1>
        <span class="spacer" />
        <SearchBox id={id} path={entry.path} />
      </div>
      {entry.path === entry.root ? (
        <p class="muted" id="snapshot-line">
          Snapshot <code>{short(id)}</code> of {entry.root}, {date(entry.snapshot.time)} on {entry.snapshot.host} by {entry.snapshot.user}{' '}
          {entry.snapshot.tags.map((t) => (
            <span class="tag" key={t}>
              {t}
            </span>
          ))}
        </p>
      ) : null}
      {s ? (
        <p class="summary" id="dir-summary">
          {contents(s.below)} · {bytes(s.below.size)}
          {Object.keys(s.below.types).length ? (
            <span class="types">
              {' · '}
              {Object.entries(s.below.types)
                .sort((a, b) => b[1] - a[1])
                .slice(0, 6)
                .map(([t, n]) => `${count(n)} ${t}`)
                .join(', ')}
            </span>
          ) : null}
        </p>
      ) : null}
      <div class="actions">
        {entry.urls?.zip ? (
          <a class="button" href={entry.urls.zip} download id="download-zip">
            Download .zip
          </a>
        ) : null}
        {entry.urls?.tgz ? (
          <a class="button" href={entry.urls.tgz} download id="download-tgz">
            Download .tar.gz
          </a>
        ) : null}
        <a class="button" href={href.history(id, entry.path)}>
          History
        </a>
        <a class="button" href={href.check(id, entry.path)}>
          Check
        </a>
      </div>
      <ErrorLine error={error} />
      <div class="table-wrap">
        <table class="list entries" aria-label="Folder contents" onKeyDown={onKey as never}>
          <thead>
            <tr>
              <th class="wide">Name</th>
              <th class="num">Size</th>
              <th class="hide-narrow">Contents</th>
              <th class="hide-narrow">Modified</th>
              <th class="hide-narrow">Mode</th>
            </tr>
          </thead>
          <tbody ref={listRef}>
            {entries.map((e) => (
              <tr key={e.path} class={e.error ? 'damaged' : undefined}>
                <td class="wide name-cell">
                  <Icon entry={e} />
                  <a class="row-link" href={href.tree(id, e.path)}>
                    {e.name}
                  </a>
                  {e.type === 'symlink' ? <span class="muted"> → {e.target}</span> : null}
                  {e.error ? <span class="error-inline"> {e.error}</span> : null}
                </td>
                <td class="num">{e.type === 'directory' ? bytes(e.summary?.below.size) : e.type === 'file' ? bytes(e.size) : ''}</td>
                <td class="hide-narrow muted">{e.type === 'directory' && e.summary ? contents(e.summary.below) : e.contentType ?? e.type}</td>
                <td class="hide-narrow muted">{date(e.mtime)}</td>
                <td class="hide-narrow mono muted">{mode(e.type, e.mode)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="muted" id="dir-count">
        {total !== undefined ? `${count(entries.length)} of ${count(total)} entries shown` : `${count(entries.length)} entries`}
      </p>
      {next ? (
        <button type="button" id="load-more" disabled={loading} onClick={() => load(next)}>
          {loading ? 'Loading…' : `Show ${PAGE} more`}
        </button>
      ) : null}
    </section>
  )
}

export function SearchBox({id, path, name = '', type = ''}: {id: string; path: string; name?: string; type?: string}) {
  const [text, setText] = useState(name)
  const [kind, setKind] = useState(type)
  return (
    <form
      class="search"
      role="search"
      onSubmit={(e) => {
        e.preventDefault()
        if (text.trim() || kind) navigate(href.search(id, {name: text.trim(), type: kind, path}))
      }}
    >
      <input id="search-name" type="search" placeholder="Search names (/)" aria-label="Search by name" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      <select id="search-type" aria-label="Type" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
        <option value="">any type</option>
        <option value="image/">images</option>
        <option value="video/">videos</option>
        <option value="audio/">audio</option>
        <option value="text/">text</option>
        <option value="application/pdf">PDF</option>
        <option value="application/">other documents</option>
      </select>
      <button type="submit">Search</button>
    </form>
  )
}

function FileView({id, entry}: {id: string; entry: EntryDetail}) {
  const parent = entry.path.slice(0, entry.path.lastIndexOf('/')) || '/'
  return (
    <section>
      <Crumbs id={id} path={entry.path} root={entry.root} />
      <div class="titlebar">
        <h1 class="name">{entry.name}</h1>
      </div>
      <dl class="meta">
        <dt>Size</dt>
        <dd>
          {bytes(entry.size)} {entry.size >= 1024 ? <span class="muted">({count(entry.size)} bytes)</span> : null}
        </dd>
        <dt>Type</dt>
        <dd>{entry.type === 'file' ? entry.contentType ?? 'unknown' : entry.type}</dd>
        <dt>Modified</dt>
        <dd>{date(entry.mtime)}</dd>
        <dt>Mode</dt>
        <dd class="mono">{mode(entry.type, entry.mode)}</dd>
        {entry.target ? (
          <>
            <dt>Points to</dt>
            <dd class="mono">{entry.target}</dd>
          </>
        ) : null}
        <dt>Snapshot</dt>
        <dd>
          <a href={href.tree(id, parent)}>{short(id)}</a>
        </dd>
      </dl>
      <div class="actions">
        {entry.urls?.download ? (
          <a class="button primary" href={entry.urls.download} download={entry.name} id="download-file">
            Download
          </a>
        ) : null}
        {entry.urls?.view ? (
          <a class="button" href={entry.urls.view} target="_blank" rel="noopener">
            Open raw
          </a>
        ) : null}
        <a class="button" href={href.history(id, entry.path)} id="file-history">
          History
        </a>
      </div>
      {entry.error ? <p class="error">This file could not be backed up: {entry.error}</p> : null}
      {entry.type === 'file' && !entry.error && entry.urls?.view ? <Preview entry={entry} url={entry.urls.view} /> : null}
    </section>
  )
}

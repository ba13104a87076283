import {useEffect, useState} from 'preact/hooks'
import {api, type EntryInfo} from '../api'
import {bytes, date} from '../format'
import {href} from '../router'
import {ErrorLine} from '../util'
import {Crumbs} from './crumbs'
import {SearchBox} from './tree'

/** Files of a snapshot by name (a word or a glob) and by type, from the snapshot's indexes. */
export function Search({id, name, type, path}: {id: string; name: string; type: string; path?: string}) {
  const [hits, setHits] = useState<EntryInfo[]>([])
  const [next, setNext] = useState<string>()
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(true)
  const load = (after?: string) => {
    setLoading(true)
    api.search(id, {name, type, path, after, limit: 100}).then(
      (r) => {
        setHits((h) => (after ? [...h, ...r.hits] : r.hits))
        setNext(r.next)
        setLoading(false)
      },
      (e: Error) => {
        setError(e.message)
        setLoading(false)
      },
    )
  }
  useEffect(() => {
    setHits([])
    setError(undefined)
    load()
  }, [id, name, type, path])
  return (
    <section>
      <Crumbs id={id} path={path ?? '/'} tail="search" />
      <div class="titlebar">
        <h1>Search</h1>
        <span class="spacer" />
        <SearchBox id={id} path={path ?? '/'} name={name} type={type} key={`${name}|${type}`} />
      </div>
      <p class="muted" id="search-summary">
        {loading ? 'Searching…' : `${hits.length}${next ? '+' : ''} result${hits.length === 1 ? '' : 's'}`} {name ? `for “${name}”` : ''} {type ? `of type ${type}` : ''} {path ? `in ${path}` : ''}
      </p>
      <ErrorLine error={error} />
      <ul class="results" aria-label="Results">
        {hits.map((h) => (
          <li key={h.path}>
            <a href={href.tree(id, h.path)} class="row-link">
              {h.name}
            </a>
            <span class="muted path-cell"> {h.path.slice(0, h.path.lastIndexOf('/')) || '/'}</span>
            <span class="muted">
              {' '}
              · {h.contentType ?? h.type} · {bytes(h.size)} · {date(h.mtime)}
            </span>
          </li>
        ))}
      </ul>
      {next ? (
        <button type="button" disabled={loading} onClick={() => load(next)}>
          More results
        </button>
      ) : null}
    </section>
  )
}

import {useState} from 'preact/hooks'
import {api} from '../api'
import {bytes, count, date, short} from '../format'
import {href, navigate} from '../router'
import {ErrorLine, useLoad} from '../util'

/** Every snapshot, newest first: when, where from, how big, and what it added to the repository. */
export function Snapshots() {
  const {data, error, loading} = useLoad(() => api.snapshots(), [])
  const [picked, setPicked] = useState<string[]>([])
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]))
  const list = data ? [...data].reverse() : []
  return (
    <section>
      <div class="titlebar">
        <h1>Snapshots</h1>
        <span class="muted">{data ? `${data.length} in this repository` : ''}</span>
        <span class="spacer" />
        <button
          type="button"
          id="compare-snapshots"
          disabled={picked.length !== 2}
          onClick={() => {
            const [a, b] = [...picked].sort((x, y) => Date.parse(list.find((s) => s.id === x)!.time) - Date.parse(list.find((s) => s.id === y)!.time))
            navigate(href.diff(a, b))
          }}
        >
          Compare selected
        </button>
      </div>
      <ErrorLine error={error} />
      {loading && !data ? <p class="muted">Loading…</p> : null}
      {data && data.length === 0 ? <p class="muted">This repository has no snapshots yet: run plakar backup.</p> : null}
      {list.length > 0 ? (
        <div class="table-wrap">
          <table class="list snapshots" aria-label="Snapshots">
            <thead>
              <tr>
                <th class="pick">
                  <span class="sr-only">Select</span>
                </th>
                <th>Date</th>
                <th>Snapshot</th>
                <th class="wide">Source</th>
                <th>Host</th>
                <th>Tags</th>
                <th class="num">Files</th>
                <th class="num">Size</th>
                <th class="num" title="Bytes this snapshot added to the repository, after deduplication and compression">
                  Added
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.id} data-id={s.id}>
                  <td class="pick">
                    <input type="checkbox" aria-label={`Select snapshot ${short(s.id)}`} checked={picked.includes(s.id)} onChange={() => toggle(s.id)} />
                  </td>
                  <td>
                    <a href={href.tree(s.id)} class="row-link">
                      {date(s.time)}
                    </a>
                  </td>
                  <td>
                    <code>{short(s.id)}</code>
                  </td>
                  <td class="wide path-cell" title={`${s.importer.type}:${s.importer.root}`}>
                    {s.importer.root}
                  </td>
                  <td>{s.host}</td>
                  <td>
                    {s.tags.map((t) => (
                      <span class="tag" key={t}>
                        {t}
                      </span>
                    ))}
                  </td>
                  <td class="num">{count(s.summary.files)}</td>
                  <td class="num">{bytes(s.summary.size)}</td>
                  <td class="num">{bytes(s.stats.addedBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  )
}

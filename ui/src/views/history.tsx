import {useState} from 'preact/hooks'
import {api} from '../api'
import {bytes, date, short} from '../format'
import {href, navigate} from '../router'
import {ErrorLine, useLoad} from '../util'
import {Crumbs} from './crumbs'

const LABELS = {added: 'appeared', modified: 'changed', unchanged: 'unchanged', removed: 'gone', absent: 'absent'}

/** One path across every snapshot of the same source: when it changed, and which versions exist. */
export function History({id, path}: {id: string; path: string}) {
  const {data, error} = useLoad(() => api.timeline(id, path), [id, path])
  const [picked, setPicked] = useState<string[]>([])
  const toggle = (sid: string) => setPicked((p) => (p.includes(sid) ? p.filter((x) => x !== sid) : [...p.slice(-1), sid]))
  const versions = data ? new Set(data.points.filter((p) => p.version).map((p) => p.version)).size : 0
  const points = data ? [...data.points].reverse() : []
  return (
    <section>
      <Crumbs id={id} path={path} tail="history" />
      <div class="titlebar">
        <h1>History of {path}</h1>
        <span class="spacer" />
        <button
          type="button"
          id="compare-versions"
          disabled={picked.length !== 2}
          onClick={() => {
            const order = data!.points.map((p) => p.snapshot.id)
            const [a, b] = [...picked].sort((x, y) => order.indexOf(x) - order.indexOf(y))
            navigate(href.diff(a, b, path, path))
          }}
        >
          Compare selected
        </button>
      </div>
      <ErrorLine error={error} />
      {data ? (
        <p class="muted" id="history-summary">
          {versions} distinct version{versions === 1 ? '' : 's'} in {data.points.length} snapshot{data.points.length === 1 ? '' : 's'}
        </p>
      ) : null}
      <div class="table-wrap">
        <table class="list history" aria-label="Versions">
          <thead>
            <tr>
              <th class="pick">
                <span class="sr-only">Select</span>
              </th>
              <th>Snapshot date</th>
              <th>Snapshot</th>
              <th>Change</th>
              <th class="num">Version</th>
              <th class="num">Size</th>
              <th class="hide-narrow">Modified</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.snapshot.id} class={`change-${p.change}`} data-change={p.change}>
                <td class="pick">
                  {p.entry ? <input type="checkbox" aria-label={`Select the version of ${short(p.snapshot.id)}`} checked={picked.includes(p.snapshot.id)} onChange={() => toggle(p.snapshot.id)} /> : null}
                </td>
                <td>{p.entry ? <a href={href.tree(p.snapshot.id, path)}>{date(p.snapshot.time)}</a> : date(p.snapshot.time)}</td>
                <td>
                  <code>{short(p.snapshot.id)}</code>
                </td>
                <td>{LABELS[p.change]}</td>
                <td class="num">{p.version ? `v${p.version}` : ''}</td>
                <td class="num">{p.entry?.type === 'file' ? bytes(p.entry.size) : p.entry?.summary ? bytes(p.entry.summary.below.size) : ''}</td>
                <td class="hide-narrow muted">{date(p.entry?.mtime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}

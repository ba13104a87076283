import {api, type FileDiff, type TreeDiff} from '../api'
import {bytes, short} from '../format'
import {href} from '../router'
import {ErrorLine, useLoad} from '../util'

const SIGNS = {added: '+', removed: '−', modified: '~', 'type-changed': '!'}

/** Two snapshots, folders or files side by side: what changed, and for text files, how. */
export function Diff({a, ap, b, bp}: {a: string; ap?: string; b: string; bp?: string}) {
  const {data, error} = useLoad(() => api.diff(a, ap, b, bp), [a, ap, b, bp])
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumbs">
        <a href={href.snapshots()}>Snapshots</a>
        <span class="sep">›</span>
        <span class="current">compare</span>
      </nav>
      {ap && ap === bp ? (
        <h1>
          {ap.slice(ap.lastIndexOf('/') + 1)}: <code>{short(a)}</code> → <code>{short(b)}</code>
          <div class="muted sub">{ap}</div>
        </h1>
      ) : (
        <h1>
          Compare <code>{short(a)}</code>
          {ap ? `:${ap}` : ''} with <code>{short(b)}</code>
          {bp ? `:${bp}` : ''}
        </h1>
      )}
      <ErrorLine error={error} />
      {!data && !error ? <p class="muted">Comparing…</p> : null}
      {data?.kind === 'file' ? <FileChanges d={data} a={a} b={b} /> : null}
      {data?.kind === 'tree' ? <TreeChanges d={data} /> : null}
    </section>
  )
}

function FileChanges({d, a, b}: {d: FileDiff; a: string; b: string}) {
  if (d.change === 'unchanged') return <p id="diff-result">The two versions are identical.</p>
  if (!d.patch) return <p id="diff-result">They differ ({d.change}): {d.a.type} of {bytes(d.a.size)} and {d.b.type} of {bytes(d.b.size)}.</p>
  const lines = d.patch.split('\n')
  return (
    <>
      <p class="muted" id="diff-result">
        <a href={href.tree(a, d.a.path)}>{bytes(d.a.size)}</a> → <a href={href.tree(b, d.b.path)}>{bytes(d.b.size)}</a>
      </p>
      <pre class="code diff" id="patch">
        {lines.map((l, i) => (
          <div key={i} class={l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : l.startsWith('@@') ? 'hunk' : undefined}>
            {l || ' '}
          </div>
        ))}
      </pre>
    </>
  )
}

function TreeChanges({d}: {d: TreeDiff}) {
  const join = (base: string, rel: string) => (rel === '/' ? base : `${base === '/' ? '' : base}${rel}`)
  if (d.changes.length === 0) return <p id="diff-result">No differences.</p>
  return (
    <>
      <p class="muted" id="diff-result">
        {d.changes.length}
        {d.truncated ? '+' : ''} changes
      </p>
      <ul class="changes" aria-label="Changes">
        {d.changes.map((c) => (
          <li key={c.path} class={`change-${c.change}`}>
            <span class="sign" aria-label={c.change}>
              {SIGNS[c.change]}
            </span>{' '}
            {c.change === 'removed' ? (
              <a href={href.tree(d.a.snapshot, join(d.a.path, c.path))}>{c.path}</a>
            ) : (
              <a href={href.tree(d.b.snapshot, join(d.b.path, c.path))}>{c.path}</a>
            )}
            {c.change === 'modified' && c.type === 'file' ? (
              <>
                {' '}
                <a class="muted" href={href.diff(d.a.snapshot, d.b.snapshot, join(d.a.path, c.path), join(d.b.path, c.path))}>
                  (what changed)
                </a>
              </>
            ) : null}
            <span class="muted"> {c.before && c.after ? `${bytes(c.before.size)} → ${bytes(c.after.size)}` : c.after ? bytes(c.after.size) : c.before ? bytes(c.before.size) : ''}</span>
          </li>
        ))}
      </ul>
    </>
  )
}

import {short} from '../format'
import {href} from '../router'

/** Snapshot › folder › … › name, each part a link (the last one is the current page). */
export function Crumbs({id, path, root, tail}: {id: string; path: string; root?: string; tail?: string}) {
  const parts = path.split('/').filter(Boolean)
  const rootParts = (root ?? '/').split('/').filter(Boolean)
  // Folders above the snapshot's root hold only the way down to it: start the trail at the root.
  const first = parts.length >= rootParts.length && rootParts.every((p, i) => parts[i] === p) ? rootParts.length : 0
  const items: {label: string; to: string}[] = []
  items.push({label: short(id), to: href.tree(id, first > 0 ? `/${rootParts.join('/')}` : '/')})
  if (first > 0) items[0].label = `${short(id)}:${'/' + rootParts.join('/')}`
  for (let i = Math.max(first, 0); i < parts.length; i++) items.push({label: parts[i], to: href.tree(id, `/${parts.slice(0, i + 1).join('/')}`)})
  return (
    <nav class="crumbs" aria-label="Breadcrumbs">
      <a href={href.snapshots()}>Snapshots</a>
      {items.map((it, i) => (
        <span key={it.to}>
          <span class="sep" aria-hidden="true">
            ›
          </span>
          {i === items.length - 1 && !tail ? (
            <span aria-current="page" class="current">
              {it.label}
            </span>
          ) : (
            <a href={it.to}>{it.label}</a>
          )}
        </span>
      ))}
      {tail ? (
        <span>
          <span class="sep" aria-hidden="true">
            ›
          </span>
          <span aria-current="page" class="current">
            {tail}
          </span>
        </span>
      ) : null}
    </nav>
  )
}

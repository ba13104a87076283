import {useEffect, useState} from 'preact/hooks'

/**
 * Routes are real paths (history API), so every view has an address that survives a reload
 * and can be bookmarked; the server answers every non-API path with the application.
 *   /                          snapshots
 *   /s/ID/tree/PATH…           a folder or a file of a snapshot (PATH segments URI-encoded)
 *   /s/ID/history/PATH…        one path across snapshots
 *   /s/ID/search?name=&type=   search in a snapshot
 *   /s/ID/check                check a snapshot
 *   /diff?a=&ap=&b=&bp=        compare two snapshots, folders or files
 */
export type Route =
  | {view: 'snapshots'}
  | {view: 'tree'; id: string; path?: string}
  | {view: 'history'; id: string; path: string}
  | {view: 'search'; id: string; name: string; type: string; path?: string}
  | {view: 'check'; id: string; path?: string}
  | {view: 'diff'; a: string; ap?: string; b: string; bp?: string}
  | {view: 'missing'; url: string}

export function encodePath(path: string): string {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/')
}

function decodePath(rest: string[]): string {
  return `/${rest.map((s) => decodeURIComponent(s)).join('/')}`
}

export function parse(location: Location | URL): Route {
  const parts = location.pathname.split('/').filter((s, i) => i > 0 && !(s === '' && i === location.pathname.split('/').length - 1))
  const search = new URLSearchParams(location.search)
  if (parts.length === 0) return {view: 'snapshots'}
  if (parts[0] === 'diff') return {view: 'diff', a: search.get('a') ?? '', ap: search.get('ap') ?? undefined, b: search.get('b') ?? '', bp: search.get('bp') ?? undefined}
  if (parts[0] === 's' && parts[1]) {
    const id = parts[1]
    const rest = parts.slice(3)
    switch (parts[2]) {
      case undefined:
        return {view: 'tree', id}
      case 'tree':
        return {view: 'tree', id, path: rest.length ? decodePath(rest) : undefined}
      case 'history':
        return {view: 'history', id, path: decodePath(rest)}
      case 'search':
        return {view: 'search', id, name: search.get('name') ?? '', type: search.get('type') ?? '', path: search.get('path') ?? undefined}
      case 'check':
        return {view: 'check', id, path: search.get('path') ?? undefined}
    }
  }
  return {view: 'missing', url: location.pathname}
}

export const href = {
  snapshots: () => '/',
  tree: (id: string, path?: string) => (path === undefined ? `/s/${id}` : `/s/${id}/tree/${encodePath(path)}`),
  history: (id: string, path: string) => `/s/${id}/history/${encodePath(path)}`,
  search: (id: string, p: {name?: string; type?: string; path?: string}) => {
    const q = new URLSearchParams()
    if (p.name) q.set('name', p.name)
    if (p.type) q.set('type', p.type)
    if (p.path && p.path !== '/') q.set('path', p.path)
    return `/s/${id}/search?${q}`
  },
  check: (id: string, path?: string) => `/s/${id}/check${path ? `?${new URLSearchParams({path})}` : ''}`,
  diff: (a: string, b: string, ap?: string, bp?: string) => {
    const q = new URLSearchParams({a, b})
    if (ap) q.set('ap', ap)
    if (bp) q.set('bp', bp)
    return `/diff?${q}`
  },
}

const listeners = new Set<() => void>()

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to)
  else history.pushState(null, '', to)
  window.scrollTo(0, 0)
  for (const l of listeners) l()
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location))
  useEffect(() => {
    const update = () => setRoute(parse(window.location))
    listeners.add(update)
    window.addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      window.removeEventListener('popstate', update)
    }
  }, [])
  return route
}

/** Plain left clicks on in-app links navigate without a reload; others (new tab, download) stay native. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  const a = (event.target as Element | null)?.closest?.('a')
  if (!a || a.target || a.hasAttribute('download') || a.origin !== window.location.origin) return
  const url = new URL(a.href)
  if (url.pathname.startsWith('/content') || url.pathname.startsWith('/archive') || url.pathname.startsWith('/api/')) return
  event.preventDefault()
  navigate(url.pathname + url.search)
}

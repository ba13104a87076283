import {render} from 'preact'
import {useEffect, useState} from 'preact/hooks'
import {api, ApiError} from './api'
import {onLinkClick, useRoute} from './router'
import {Snapshots} from './views/snapshots'
import {Tree} from './views/tree'
import {History} from './views/history'
import {Search} from './views/search'
import {Check} from './views/check'
import {Diff} from './views/diff'
import {ThemeToggle} from './theme'
import './style.css'

function App() {
  const route = useRoute()
  const [session, setSession] = useState<'checking' | 'ok' | 'none' | string>('checking')
  useEffect(() => {
    api.session().then(
      () => setSession('ok'),
      (e: unknown) => setSession(e instanceof ApiError && e.status === 401 ? 'none' : String((e as Error).message)),
    )
  }, [])
  useEffect(() => {
    // "/" jumps to the search box of the page, as in most browsers' apps.
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement
      if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) {
        const box = document.querySelector<HTMLInputElement>('#search-name')
        if (box) {
          e.preventDefault()
          box.focus()
        }
      }
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [])
  let body
  if (session === 'checking') body = <p class="muted">Loading…</p>
  else if (session === 'none')
    body = (
      <div class="notice" role="alert">
        <h1>Not logged in</h1>
        <p>
          Open the link that <code>plakar ui</code> printed in the terminal. Each run prints a new one.
        </p>
      </div>
    )
  else if (session !== 'ok') body = <p class="error" role="alert">{session}</p>
  else {
    switch (route.view) {
      case 'snapshots':
        body = <Snapshots />
        break
      case 'tree':
        body = <Tree id={route.id} path={route.path} />
        break
      case 'history':
        body = <History id={route.id} path={route.path} />
        break
      case 'search':
        body = <Search id={route.id} name={route.name} type={route.type} path={route.path} />
        break
      case 'check':
        body = <Check id={route.id} path={route.path} />
        break
      case 'diff':
        body = <Diff a={route.a} ap={route.ap} b={route.b} bp={route.bp} />
        break
      default:
        body = <p class="error">No page at {route.url}.</p>
    }
  }
  return (
    <div class="app" onClick={onLinkClick as never}>
      <header class="top">
        <a class="brand" href="/">
          plakar
        </a>
        <span class="spacer" />
        <ThemeToggle />
      </header>
      <main id="main">{body}</main>
    </div>
  )
}

render(<App />, document.getElementById('app')!)

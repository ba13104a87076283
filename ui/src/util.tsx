import {useEffect, useState} from 'preact/hooks'

/** Runs an async load when its inputs change; the latest one wins. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): {data?: T; error?: string; loading: boolean} {
  const [state, setState] = useState<{data?: T; error?: string; loading: boolean}>({loading: true})
  useEffect(() => {
    let live = true
    setState((s) => ({data: s.data, loading: true}))
    load().then(
      (data) => live && setState({data, loading: false}),
      (e: unknown) => live && setState({error: (e as Error).message, loading: false}),
    )
    return () => {
      live = false
    }
  }, deps)
  return state
}

export function ErrorLine({error}: {error?: string}) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null
}

/** The JSON API of `plakar ui` (see core/cli/src/ui/server.ts), typed for the page. */

export interface Summary {
  files: number
  directories: number
  symlinks: number
  others: number
  errors: number
  size: number
  types: Record<string, number>
}

export interface SnapshotInfo {
  id: string
  time: string
  host: string
  user: string
  tags: string[]
  importer: {type: string; origin: string; root: string}
  command: string[]
  summary: Summary
  stats: {durationMs: number; readBytes: number; addedBytes: number; addedBlobs: number}
  parent?: string
}

export interface EntryInfo {
  name: string
  path: string
  type: 'file' | 'directory' | 'symlink' | 'device' | 'pipe' | 'socket' | 'unknown'
  size: number
  mode?: number
  mtime?: string
  contentType?: string
  target?: string
  error?: string
  summary?: {direct: Summary; below: Summary}
}

export interface EntryDetail extends EntryInfo {
  root: string
  snapshot: {id: string; time: string; host: string; user: string; tags: string[]}
  urls?: {view?: string; download?: string; zip?: string; tgz?: string}
}

export interface DirectoryPage {
  path: string
  summary?: {direct: Summary; below: Summary}
  entries: EntryInfo[]
  next?: string
}

export interface TimelinePoint {
  snapshot: SnapshotInfo
  change: 'added' | 'modified' | 'unchanged' | 'removed' | 'absent'
  version?: number
  entry?: EntryInfo
}

export interface FileDiff {
  kind: 'file'
  a: EntryInfo
  b: EntryInfo
  change: 'modified' | 'unchanged' | 'type-changed'
  patch?: string
}

export interface TreeDiff {
  kind: 'tree'
  a: {snapshot: string; path: string}
  b: {snapshot: string; path: string}
  changes: {change: 'added' | 'removed' | 'modified' | 'type-changed'; path: string; type: string; before?: {size: number}; after?: {size: number}}[]
  truncated: boolean
}

export interface CheckJob {
  id: string
  snapshot: string
  path: string
  fast: boolean
  state: 'running' | 'done' | 'failed'
  version: number
  progress?: {phase: 'index' | 'data' | 'files'; done: number; total: number; bytes?: number; totalBytes?: number}
  problems: {kind: string; message: string; path?: string}[]
  result?: {snapshots: number; files: number; packfiles: number; bytes: number}
  error?: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, {credentials: 'same-origin', ...init, headers: {Accept: 'application/json', ...(init?.headers ?? {})}})
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`
    try {
      message = ((await res.json()) as {error?: string}).error ?? message
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message)
  }
  return (await res.json()) as T
}

const q = (params: Record<string, string | number | undefined>) => {
  const out = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') out.set(k, String(v))
  const s = out.toString()
  return s ? `?${s}` : ''
}

export const api = {
  session: () => request<{ok: boolean}>('/api/session'),
  snapshots: () => request<{snapshots: SnapshotInfo[]}>('/api/snapshots').then((r) => r.snapshots),
  snapshot: (id: string) => request<SnapshotInfo>(`/api/snapshots/${id}`),
  entry: (id: string, path?: string) => request<EntryDetail>(`/api/snapshots/${id}/entry${q({path})}`),
  children: (id: string, path: string, after?: string, limit?: number) => request<DirectoryPage>(`/api/snapshots/${id}/children${q({path, after, limit})}`),
  search: (id: string, params: {name?: string; type?: string; path?: string; after?: string; limit?: number}) =>
    request<{hits: EntryInfo[]; next?: string}>(`/api/snapshots/${id}/search${q(params)}`),
  timeline: (id: string, path: string) => request<{path: string; points: TimelinePoint[]}>(`/api/snapshots/${id}/timeline${q({path})}`),
  diff: (a: string, ap: string | undefined, b: string, bp: string | undefined) => request<FileDiff | TreeDiff>(`/api/diff${q({a, ap, b, bp})}`),
  startCheck: (snapshot: string, path?: string, fast?: boolean) =>
    request<CheckJob>('/api/checks', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({snapshot, path, fast})}),
  waitCheck: (id: string, since: number) => request<CheckJob>(`/api/checks/${id}${q({since})}`),
}

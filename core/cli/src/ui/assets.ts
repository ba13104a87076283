import {createReadStream, existsSync, readdirSync, statSync} from 'node:fs'
import type {ServerResponse} from 'node:http'
import {createRequire} from 'node:module'
import {dirname, join, relative, sep} from 'node:path'
import {lookup} from 'mime-types'

/**
 * The single-page application, built at build time by the `@plakar/ui` workspace into its
 * dist/. The server serves exactly the files found there at start-up (a fixed table: no path
 * from a request ever reaches the filesystem, so there is nothing to traverse or list).
 */
export class Assets {
  readonly #files = new Map<string, {file: string; size: number; type: string}>()
  readonly root: string | undefined

  constructor(root = findAssets()) {
    this.root = root
    if (!root) return
    const walk = (dir: string) => {
      for (const d of readdirSync(dir, {withFileTypes: true})) {
        const full = join(dir, d.name)
        if (d.isDirectory()) walk(full)
        else if (d.isFile()) {
          const url = `/${relative(root, full).split(sep).join('/')}`
          this.#files.set(url, {file: full, size: statSync(full).size, type: contentTypeOf(d.name)})
        }
      }
    }
    walk(root)
  }

  get built(): boolean {
    return this.#files.has('/index.html')
  }

  has(url: string): boolean {
    return this.#files.has(url)
  }

  send(res: ServerResponse, url: string, head = false): void {
    const asset = this.#files.get(url)!
    // Vite names every asset after its content hash; only index.html may change between builds.
    const cache = url.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-store'
    res.writeHead(200, {'Content-Type': asset.type, 'Content-Length': asset.size, 'Cache-Control': cache})
    if (head) res.end()
    else createReadStream(asset.file).pipe(res)
  }
}

function contentTypeOf(name: string): string {
  if (name.endsWith('.mjs')) return 'text/javascript; charset=utf-8'
  const type = lookup(name) || 'application/octet-stream'
  return /^(text\/|application\/(javascript|json))/.test(type) || name.endsWith('.svg') ? `${type}; charset=utf-8` : type
}

/** ui/dist of the @plakar/ui package, wherever npm placed it. */
function findAssets(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@plakar/ui/package.json')
    const dist = join(dirname(pkg), 'dist')
    return existsSync(dist) ? dist : undefined
  } catch {
    return undefined
  }
}

/** Shown when the package was installed without its built UI (a development checkout before `npm run build`). */
export const NOT_BUILT_PAGE = `<!doctype html><meta charset="utf-8"><title>plakar ui</title><h1>plakar ui</h1><p>The web application was not built: run <code>npm run build</code>. The API at /api/ works.</p>`

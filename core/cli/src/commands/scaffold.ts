import {Args, Flags} from '@oclif/core'
import {constants, existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {copyFile, mkdir, readdir, readFile, stat, writeFile} from 'node:fs/promises'
import {basename, dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {PlakarCommand} from '../cli/base-command.js'
import {TOKENS} from '../cli/container.js'
import {type ConnectorKind, CONTRACT_VERSION, PlakarError, UsageError} from '@plakar/sdk'
import type {ConnectorRegistry} from '../connectors/registry.js'

const KINDS = ['importer', 'exporter', 'storage'] as const

/** npm's rules for a package name: lowercase, URL-safe, optionally scoped, at most 214 characters. */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/
/** The registry's rule for a location scheme. */
const SCHEME = /^[a-z][a-z0-9+.-]*$/

/** The scheme a package name suggests: "@acme/plakar-importer-crm" → "crm". */
export function schemeFromName(name: string): string | undefined {
  const scheme = name
    .replace(/^@[^/]+\//, '')
    .replace(/^plakar-/, '')
    .replace(/^(importer|exporter|storage|plugin)-/, '')
    .replace(/[^a-z0-9+.-]/g, '')
  return SCHEME.test(scheme) ? scheme : undefined
}

/** The file `npm pack` writes for a package: "@acme/x" 0.1.0 → "acme-x-0.1.0.tgz". */
export function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`
}

/** templates/ of the CLI's root package, else beside this module (a checkout). */
function templatesDir(root: string): string {
  const candidates = [join(root, 'templates'), join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'templates')]
  const found = candidates.find((dir) => existsSync(join(dir, 'importer', 'package.json')))
  if (!found) throw new PlakarError(`the plugin templates are missing from this installation (looked in ${candidates.join(', ')})`)
  return found
}

/** The version of the SDK this CLI runs: generated plugins depend on a compatible release. */
function sdkVersion(): string {
  const pjson = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@plakar/sdk/package.json'), 'utf8')) as {version: string}
  return pjson.version
}

/**
 * The SDK this CLI runs, packed by the build (`npm pack` of core/sdk into the CLI's dist/). A
 * scaffolded plugin gets a copy and depends on it by path, so `npm install` needs no registry
 * that serves @plakar/sdk: only this machine's npm cache for the toolchain.
 */
function sdkTarball(version: string): string {
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', `plakar-sdk-${version}.tgz`)
  if (!existsSync(file)) throw new PlakarError(`the SDK tarball is missing from this installation (${file}): rebuild plakar (npm run build), or use --sdk registry`)
  return file
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(join(dir, prefix), {withFileTypes: true})) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') out.push(...(await listFiles(dir, rel)))
    } else if (entry.isFile()) out.push(rel)
  }
  return out.sort()
}

export default class Scaffold extends PlakarCommand {
  static override summary = 'create a plugin package from a template'
  static override description =
    'Writes a new npm package for an importer, exporter or storage plugin: package.json with its plakar declaration, a configuration schema, a working skeleton, tests that run the SDK conformance suite, a build script and a README. It builds, tests, packs and installs as generated.'

  static override args = {
    kind: Args.string({required: true, options: [...KINDS], description: 'what the plugin provides: importer, exporter or storage'}),
    name: Args.string({required: true, description: 'npm package name, such as @acme/plakar-importer-crm'}),
  }

  static override flags = {
    dir: Flags.string({description: 'directory to create (default: ./ and the name without its scope)'}),
    scheme: Flags.string({description: 'location scheme the connector serves (default: from the name)'}),
    sdk: Flags.string({
      options: ['tarball', 'registry'],
      default: 'tarball',
      description:
        'where npm install takes @plakar/sdk from: "tarball", a copy of this plakar\'s SDK written to vendor/ (no registry needed), or "registry", a compatible release from the npm registry',
    }),
  }

  static override examples = [
    'plakar scaffold importer @acme/plakar-importer-crm',
    'plakar scaffold storage plakar-storage-vault --scheme vault --dir ~/src/vault',
    'plakar scaffold exporter @acme/plakar-exporter-tape --sdk registry',
  ]

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Scaffold)
    const kind = args.kind as ConnectorKind
    const name = args.name
    if (name.length > 214 || !PACKAGE_NAME.test(name)) {
      throw new UsageError(`"${name}" is not a valid npm package name (lowercase letters, digits, "-", "." and "_", optionally scoped as @scope/name)`)
    }
    const scheme = flags.scheme ?? schemeFromName(name)
    if (scheme === undefined) throw new UsageError(`no scheme can be made from "${name}": give one with --scheme`)
    if (!SCHEME.test(scheme)) throw new UsageError(`"${scheme}" is not a valid scheme (a lowercase letter, then lowercase letters, digits, "+", "." or "-")`)

    const target = resolve(flags.dir ?? basename(name))
    const existing = await stat(target).catch(() => undefined)
    if (existing && (!existing.isDirectory() || (await readdir(target)).length > 0)) {
      throw new PlakarError(`${target} already exists and is not an empty directory: choose another with --dir`)
    }

    const taken = this.#servedBy(kind, scheme)
    if (taken) this.logger.warn(`the ${kind} scheme "${scheme}" is already served by ${taken}: both installed at once, neither would be used (choose another with --scheme)`)

    const version = '0.1.0'
    const sdk = sdkVersion()
    const bundledSdk = flags.sdk === 'tarball' ? sdkTarball(sdk) : undefined
    const vendored = `vendor/${basename(bundledSdk ?? '')}`
    const values: Record<string, string> = {
      name,
      scheme,
      description: `plakar ${kind} for ${scheme}: locations`,
      sdkSpec: bundledSdk ? `file:${vendored}` : `^${sdk}`,
      sdkVersion: sdk,
      tarball: tarballName(name, version),
    }
    const source = join(templatesDir(this.config.root), kind)
    const files = await listFiles(source)
    for (const file of files) {
      let text = (await readFile(join(source, file), 'utf8')).replaceAll(/\{\{(\w+)\}\}/g, (token, key: string) => values[key] ?? token)
      if (file === 'package.json') {
        text = text.replace(/"contract": *\d+/, `"contract": ${CONTRACT_VERSION}`).replace(/"version": *"[^"]*"/, `"version": "${version}"`)
        const pjson = JSON.parse(text) as {plakar?: {contract?: number}}
        if (pjson.plakar?.contract !== CONTRACT_VERSION) throw new PlakarError(`the ${kind} template's package.json has no plakar contract field`)
      }
      // npm never packs a file named .gitignore: the templates keep it as "gitignore".
      const out = join(target, file === 'gitignore' ? '.gitignore' : file)
      await mkdir(dirname(out), {recursive: true})
      await writeFile(out, text, {flag: 'wx'})
    }
    if (bundledSdk) {
      await mkdir(join(target, 'vendor'), {recursive: true})
      await copyFile(bundledSdk, join(target, vendored), constants.COPYFILE_EXCL)
      files.push(vendored)
    }

    const shown = relative(process.cwd(), target) || '.'
    if (this.settings.json) {
      this.printJson({name, kind, scheme, directory: target, contract: CONTRACT_VERSION, written: files.map((f) => (f === 'gitignore' ? '.gitignore' : f))})
      return
    }
    this.print(`created ${name} in ${shown}: ${kind === 'storage' ? 'a' : 'an'} ${kind} for ${scheme}: locations (plugin contract ${CONTRACT_VERSION})`)
    this.print('next:')
    this.print(`  cd ${shown.includes(' ') ? JSON.stringify(shown) : shown} && npm install && npm test`)
    this.print(`  npm pack && plakar plugins install file:$PWD/${values.tarball}`)
  }

  /** The plugin that already serves this kind and scheme here, if any. */
  #servedBy(kind: ConnectorKind, scheme: string): string | undefined {
    const registry = this.services.resolve<ConnectorRegistry>(TOKENS.Registry)
    const connector = registry.connectors().find((c) => c.kind === kind && c.schemes.includes(scheme))
    return connector?.plugin.name
  }
}

// Builds dist/ for the connectors declared in package.json ("plakar".connectors):
//   - one self-contained ES module per connector, src/<name>.ts → dist/<name>.js. The SDK
//     (@plakar/sdk) and anything else in devDependencies is bundled in; only the packages
//     listed in "dependencies" stay external and are installed with the plugin. So
//     `plakar plugins install` installs this package and its own dependencies, nothing more.
//   - the JSON Schema of each connector's configuration (the module's `schema` export),
//     written where the declaration's "schema" points: plakar validates options with it
//     before it loads any connector code.
import {build} from 'esbuild'
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import {dirname} from 'node:path'
import {pathToFileURL} from 'node:url'

const pkg = JSON.parse(await readFile('package.json', 'utf8'))
const connectors = pkg.plakar.connectors
await rm('dist', {recursive: true, force: true})
await build({
  entryPoints: connectors.map((c) => ({in: c.module.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts'), out: c.module.replace(/^\.\/dist\//, '').replace(/\.js$/, '')})),
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: Object.keys(pkg.dependencies ?? {}),
  logLevel: 'warning',
})
for (const connector of connectors) {
  if (typeof connector.schema !== 'string') continue
  const module = await import(pathToFileURL(connector.module).href)
  if (!module.schema) throw new Error(`${connector.module} has no "schema" export`)
  await mkdir(dirname(connector.schema), {recursive: true})
  await writeFile(connector.schema, `${JSON.stringify(module.schema, null, 2)}\n`)
}
console.log(`built ${connectors.map((c) => c.module).join(', ')}`)

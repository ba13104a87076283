// oclif writes the manifest's commands in the order its globbing finished, which changes from
// build to build: sort them so that an unchanged CLI gives a byte-identical manifest.
import {readFileSync, writeFileSync} from 'node:fs'

const path = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(path, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => a.localeCompare(b)))
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`)

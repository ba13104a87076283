#!/usr/bin/env node
// Entry point: put "plakar [global flags] [at LOCATION] command …" in the order oclif expects.
import {normalizeArgv} from '../core/cli/dist/cli/argv.js'

// Chunking workers read small files ahead through libuv's thread pool (4 threads by default,
// shared by the whole process); it starts with its first task, after this line.
process.env.UV_THREADPOOL_SIZE ??= '16'
const args = normalizeArgv(process.argv.slice(2))
// The command line may carry connector options (-o secret_access_key=…): hide it from ps.
process.title = 'plakar'
// oclif checks the Node version against its own engines (>=18) at load, through the whole of
// semver (48 modules, 15-25 ms of every command's start); package.json asks for more anyway.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url, args})

#!/usr/bin/env node
// Entry point: put "plakar [global flags] [at LOCATION] command …" in the order oclif expects.
import {execute} from '@oclif/core'
import {normalizeArgv} from '../core/cli/dist/cli/argv.js'

// Chunking workers read small files ahead through libuv's thread pool (4 threads by default,
// shared by the whole process); it starts with its first task, after this line.
process.env.UV_THREADPOOL_SIZE ??= '16'
const args = normalizeArgv(process.argv.slice(2))
// The command line may carry connector options (-o secret_access_key=…): hide it from ps.
process.title = 'plakar'
await execute({dir: import.meta.url, args})

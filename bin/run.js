#!/usr/bin/env node
// Entry point: put "plakar [global flags] [at LOCATION] command …" in the order oclif expects.
import {execute} from '@oclif/core'
import {normalizeArgv} from '../core/dist/cli/argv.js'

const args = normalizeArgv(process.argv.slice(2))
// The command line may carry connector options (-o secret_access_key=…): hide it from ps.
process.title = 'plakar'
await execute({dir: import.meta.url, args})

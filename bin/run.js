#!/usr/bin/env node
// Entry point: put "plakar [global flags] [at LOCATION] command …" in the order oclif expects.
import {execute} from '@oclif/core'
import {normalizeArgv} from '../core/dist/cli/argv.js'

await execute({dir: import.meta.url, args: normalizeArgv(process.argv.slice(2))})

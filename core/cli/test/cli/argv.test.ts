import {describe, expect, it} from 'vitest'
import {normalizeArgv} from '../../src/cli/argv.js'

describe('argv normalisation', () => {
  it('leaves a plain command line alone', () => {
    expect(normalizeArgv(['ls', '-r', 'abc'])).toEqual(['ls', '-r', 'abc'])
    expect(normalizeArgv([])).toEqual([])
    expect(normalizeArgv(['--help'])).toEqual(['--help'])
  })

  it('moves global flags written before the command behind it', () => {
    expect(normalizeArgv(['--json', 'ls'])).toEqual(['ls', '--json'])
    expect(normalizeArgv(['-q', '--keyfile', '/k', 'backup', '/src'])).toEqual(['backup', '/src', '-q', '--keyfile', '/k'])
    expect(normalizeArgv(['--config-dir=/c', '--concurrency', '4', 'check'])).toEqual(['check', '--config-dir=/c', '--concurrency', '4'])
  })

  it('turns "at LOCATION" into --at, and -o options after it into --at-option', () => {
    expect(normalizeArgv(['at', '/repo', 'ls'])).toEqual(['ls', '--at', '/repo'])
    expect(normalizeArgv(['at', 's3://h/b', '-o', 'region=eu', '-o=use_tls=false', 'backup', '/src', '--tag', 't'])).toEqual([
      'backup',
      '/src',
      '--tag',
      't',
      '--at',
      's3://h/b',
      '--at-option',
      'region=eu',
      '--at-option',
      'use_tls=false',
    ])
    expect(normalizeArgv(['--json', 'at', '@prod', 'info'])).toEqual(['info', '--json', '--at', '@prod'])
  })

  it('accepts global flags between "at LOCATION" (and its -o options) and the command', () => {
    expect(normalizeArgv(['at', '/repo', '--json', 'ls'])).toEqual(['ls', '--json', '--at', '/repo'])
    expect(normalizeArgv(['-q', 'at', 's3://h/b', '-o', 'region=eu', '--keyfile', '/k', '-o=x=1', '--debug', 'check'])).toEqual([
      'check',
      '-q',
      '--keyfile',
      '/k',
      '--debug',
      '--at',
      's3://h/b',
      '--at-option',
      'region=eu',
      '--at-option',
      'x=1',
    ])
  })

  it('keeps arguments after "--" last, and does not treat a later "at" as the clause', () => {
    expect(normalizeArgv(['at', '/r', 'cat', '--', '-odd-name'])).toEqual(['cat', '--at', '/r', '--', '-odd-name'])
    expect(normalizeArgv(['locate', 'at'])).toEqual(['locate', 'at'])
    expect(normalizeArgv(['--json', 'backup', '--', 'at'])).toEqual(['backup', '--json', '--', 'at'])
  })

  it('a command flag that looks global but comes after the command stays where it is', () => {
    expect(normalizeArgv(['ls', '--json'])).toEqual(['ls', '--json'])
  })
})

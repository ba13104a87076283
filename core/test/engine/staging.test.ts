import {tmpdir} from 'node:os'
import {describe, expect, it} from 'vitest'
import {Staging} from '../../src/engine/staging.js'
import {createHash} from 'node:crypto'
import type {NodeStore} from '../../src/tree/btree.js'

function memoryStore(): NodeStore {
  const nodes = new Map<string, Buffer>()
  return {
    async putNode(type, bytes) {
      const mac = createHash('sha256').update(bytes).digest()
      nodes.set(`${type}:${mac.toString('hex')}`, bytes)
      return mac
    },
    async getNode(type, mac) {
      return nodes.get(`${type}:${mac.toString('hex')}`)!
    },
  }
}

describe('Staging', () => {
  it('summarises a directory root from everything below it', async () => {
    const staging = new Staging(tmpdir())
    try {
      staging.add('/r', {info: {type: 'directory', size: 0}})
      staging.add('/r/a.txt', {info: {type: 'file', size: 3, contentType: 'text/plain'}})
      staging.add('/r/d/b', {info: {type: 'file', size: 4}})
      const {summary} = await staging.build(memoryStore(), 0, '/r')
      expect(summary).toMatchObject({files: 2, directories: 1, size: 7, types: {text: 1, unknown: 1}})
    } finally {
      staging.close()
    }
  })

  it('summarises a single-file backup as that file', async () => {
    const staging = new Staging(tmpdir())
    try {
      staging.add('/r/only.txt', {info: {type: 'file', size: 5, contentType: 'text/plain'}})
      const {summary} = await staging.build(memoryStore(), 0, '/r/only.txt')
      expect(summary).toMatchObject({files: 1, directories: 0, size: 5, types: {text: 1}})
    } finally {
      staging.close()
    }
  })
})

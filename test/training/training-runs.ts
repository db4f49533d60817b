import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {WEIGHT_NAMES, WeightArrays} from '../../src/lib/model/weights.js'

/**
 * The hooks a file of training runs shares: the wasm backend, and one temporary folder removed
 * after the file. Returns a function giving a new, not yet existing checkpoint folder in it per call.
 */
export function checkpointDirsPerFile(prefix: string): () => string {
  let root: string
  let runs = 0
  beforeAll(async () => {
    await selectBackend('wasm')
    root = mkdtempSync(join(tmpdir(), prefix))
  })
  afterAll(() => rmSync(root, {recursive: true, force: true}))
  return () => {
    runs += 1
    return join(root, `run-${runs}`)
  }
}

/** Each weight's bytes, to compare runs bit for bit. */
export function bytesOf(arrays: WeightArrays): Record<string, Buffer> {
  return Object.fromEntries(WEIGHT_NAMES.map((name) => [name, Buffer.from(arrays[name].buffer, arrays[name].byteOffset, arrays[name].byteLength)]))
}

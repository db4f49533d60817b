import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {listExportVersions, unfinishedExports, writeExport} from '../../src/lib/export/index.js'
import {ClassifierWeights, createClassifierWeights, disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {makeTempDir} from '../helpers/cli.js'

const HIDDEN = 8

const provenance = {
  checkpoint: {name: 'ckpt-5', path: 'checkpoints/ckpt-5', step: 5, epoch: 0},
  test_accuracy: 0.25,
  test_images: 100,
  training_config: {hidden: HIDDEN, seed: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam'},
  toolkit_version: '0.1.0',
  backend: 'wasm',
}
const probeImages = new Float32Array(4 * 784).fill(0.5)

describe('an export stopped half-way through writing', () => {
  const temp = makeTempDir('mnist-rnn-interrupted-')
  let weights: ClassifierWeights

  beforeAll(async () => {
    await selectBackend('wasm')
    weights = createClassifierWeights(HIDDEN, 1)
  })
  afterAll(() => {
    disposeClassifierWeights(weights)
    temp.cleanup()
  })

  it('shows no version until it is complete: its files wait in a temporary folder that scanners ignore', async () => {
    const exportDir = join(temp.dir, 'paused')
    const seen: Array<{files: string[]; versions: number[]; unfinished: string[]}> = []
    const result = await writeExport({
      weights,
      exportDir,
      version: 4,
      provenance,
      probeImages,
      midWrite: async (tempPath) => {
        seen.push({files: readdirSync(tempPath), versions: listExportVersions(exportDir).map((entry) => entry.version), unfinished: unfinishedExports(exportDir)})
      },
    })
    expect(seen).toEqual([{files: ['model.json'], versions: [], unfinished: [expect.stringMatching(/^\.tmp-export-/)]}])
    expect(listExportVersions(exportDir).map((entry) => [entry.version, entry.valid])).toEqual([[4, true]])
    expect(readdirSync(result.path)).toEqual(expect.arrayContaining(['model.json', 'signature.json', 'weights.bin']))
    expect(unfinishedExports(exportDir)).toEqual([])
  })

  it('that fails half-way publishes nothing and leaves nothing behind', async () => {
    const exportDir = join(temp.dir, 'failed')
    const failing = writeExport({
      weights,
      exportDir,
      version: 1,
      provenance,
      probeImages,
      midWrite: async () => {
        throw new Error('disk full')
      },
    })
    await expect(failing).rejects.toThrow('disk full')
    expect(existsSync(join(exportDir, '1'))).toBe(false)
    expect(readdirSync(exportDir)).toEqual([])
  })
})

import * as tf from '@tensorflow/tfjs'
import {readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {UserError} from '../../src/lib/core/errors.js'
import {sha256Hex} from '../../src/lib/core/files.js'
import {
  ExportSignature,
  exportFolderHandler,
  latestValidVersion,
  listExportVersions,
  loadExportedModel,
  resolveExportPath,
  unfinishedExports,
  writeExport,
} from '../../src/lib/export/index.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {ClassifierWeights, createClassifierWeights, disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {makeTempDir} from '../helpers/cli.js'

const HIDDEN = 8
const PROBE_COUNT = 6

function probeImages(count = PROBE_COUNT): Float32Array {
  const images = new Float32Array(count * 784)
  for (let i = 0; i < images.length; i++) images[i] = ((i * 7919) % 255) / 255
  return images
}

const provenance = {
  checkpoint: {name: 'ckpt-5', path: 'checkpoints/ckpt-5', step: 5, epoch: 0},
  test_accuracy: 0.25,
  test_images: 100,
  training_config: {hidden: HIDDEN, seed: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam'},
  toolkit_version: '0.1.0',
  backend: 'wasm',
}

function logitsOf(weights: ClassifierWeights, images: Float32Array): Float32Array {
  return tf.tidy(() => classifierLogits(weights, tf.tensor3d(images, [images.length / 784, 28, 28])).dataSync() as Float32Array)
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]))
  return max
}

describe('export format', () => {
  let weights: ClassifierWeights
  let otherWeights: ClassifierWeights
  const temp = makeTempDir('mnist-rnn-export-')

  beforeAll(async () => {
    await selectBackend('wasm')
    weights = createClassifierWeights(HIDDEN, 1)
    otherWeights = createClassifierWeights(HIDDEN, 2)
  })
  afterAll(() => {
    disposeClassifierWeights(weights)
    disposeClassifierWeights(otherWeights)
    temp.cleanup()
  })

  const exportOf = (exportDir: string, extra: {version?: number; force?: boolean; weights?: ClassifierWeights} = {}) =>
    writeExport({
      weights: extra.weights ?? weights,
      exportDir,
      version: extra.version,
      force: extra.force,
      provenance,
      probeImages: probeImages(),
    })

  it('writes model.json, weights.bin, model.onnx and signature.json; stock tf.loadLayersModel reads them back with the same predictions', async () => {
    const exportDir = join(temp.dir, 'stock')
    const result = await exportOf(exportDir, {version: 2})
    expect(result.version).toBe(2)
    expect(readdirSync(result.path).sort()).toEqual(['model.json', 'model.onnx', 'signature.json', 'weights.bin'])
    expect(result.maxAbsDifference).toBeLessThanOrEqual(1e-5)

    const model = await tf.loadLayersModel(exportFolderHandler(result.path))
    expect(model.inputs[0].shape).toEqual([null, 28, 28])
    expect(model.outputs[0].shape).toEqual([null, 10])
    const images = probeImages(10)
    const stock = tf.tidy(() => (model.predict(tf.tensor3d(images, [10, 28, 28])) as tf.Tensor).dataSync())
    model.dispose()
    expect(maxAbsDifference(stock, logitsOf(weights, images))).toBeLessThanOrEqual(1e-5)
  })

  it('signature.json matches the serving contract, records provenance, and its checksums verify', async () => {
    const exportDir = join(temp.dir, 'signature')
    const result = await exportOf(exportDir)
    const signature = JSON.parse(readFileSync(join(result.path, 'signature.json'), 'utf8')) as ExportSignature
    expect(signature.tags).toEqual(['serve'])
    expect(signature.signature_def).toEqual({
      serving_default: {
        method_name: 'tensorflow/serving/predict',
        inputs: {x_input: {name: 'x_input', dtype: 'DT_FLOAT', shape: [-1, 28, 28]}},
        outputs: {y_output: {name: 'y_output', dtype: 'DT_FLOAT', shape: [-1, 10]}},
      },
    })
    expect(signature.model).toEqual({architecture: 'lstm', hidden_units: HIDDEN, output: 'logits'})
    expect(signature.provenance).toMatchObject({
      ...provenance,
      verification: {probe_images: PROBE_COUNT, tolerance: 1e-5, onnxruntime: {tolerance: 1e-4, version: expect.stringMatching(/^\d+\.\d+/)}},
    })
    expect(signature.provenance.verification.onnxruntime!.max_abs_difference).toBeLessThanOrEqual(1e-4)
    expect(Date.parse(signature.provenance.created_at)).toBeGreaterThan(Date.now() - 60_000)
    for (const name of ['model.json', 'weights.bin', 'model.onnx']) {
      const bytes = readFileSync(join(result.path, name))
      expect(signature.files[name]).toEqual({bytes: bytes.byteLength, sha256: sha256Hex(bytes)})
    }
    // No optimizer state, nothing but the 5 weights: (28 + H + 1)·4H + H·10 + 10 floats.
    expect(signature.files['weights.bin'].bytes).toBe(((28 + HIDDEN + 1) * 4 * HIDDEN + HIDDEN * 10 + 10) * 4)
  })

  it('numbers versions one after the highest, refuses an existing version, and replaces it with force', async () => {
    const exportDir = join(temp.dir, 'versions')
    expect((await exportOf(exportDir)).version).toBe(1)
    expect((await exportOf(exportDir)).version).toBe(2)
    expect((await exportOf(exportDir, {version: 7})).version).toBe(7)
    expect((await exportOf(exportDir)).version).toBe(8)

    await expect(exportOf(exportDir, {version: 2, weights: otherWeights})).rejects.toThrow(
      new UserError(`version 2 already exists in ${exportDir} (use --force to replace it)`),
    )
    const before = await loadExportedModel(exportDir, 2)
    const images = probeImages(2)
    expect(maxAbsDifference(logitsOf(before.weights, images), logitsOf(weights, images))).toBe(0)
    disposeClassifierWeights(before.weights)

    const forced = await exportOf(exportDir, {version: 2, weights: otherWeights, force: true})
    expect(forced.replaced).toBe(true)
    const after = await loadExportedModel(exportDir, 2)
    expect(maxAbsDifference(logitsOf(after.weights, images), logitsOf(otherWeights, images))).toBe(0)
    disposeClassifierWeights(after.weights)
    expect(readdirSync(exportDir).sort()).toEqual(['1', '2', '7', '8'])
  })

  it('flags corrupted and incomplete folders, skips them for the latest version, and refuses to load them', async () => {
    const exportDir = join(temp.dir, 'corrupt')
    await exportOf(exportDir)
    await exportOf(exportDir)
    await exportOf(exportDir)
    const weightsFile = join(exportDir, '3', 'weights.bin')
    const bytes = readFileSync(weightsFile)
    bytes[10] ^= 0xff
    writeFileSync(weightsFile, bytes)
    rmSync(join(exportDir, '2', 'weights.bin'))

    const entries = listExportVersions(exportDir)
    expect(entries.map((entry) => [entry.version, entry.valid])).toEqual([
      [1, true],
      [2, false],
      [3, false],
    ])
    expect(entries[0]).toMatchObject({testAccuracy: 0.25, step: 5, checkpoint: 'ckpt-5', hidden: HIDDEN})
    expect(entries[1].problem).toBe('missing weights.bin (incomplete export)')
    expect(entries[2].problem).toMatch(/^weights\.bin fails its recorded sha256/)
    expect(latestValidVersion(exportDir)).toBe(1)
    expect(resolveExportPath(exportDir)).toEqual({exportDir, version: 1})
    await expect(loadExportedModel(exportDir, 3)).rejects.toThrow(/weights\.bin fails its recorded sha256/)
    const latest = await loadExportedModel(exportDir)
    expect(latest.version).toBe(1)
    disposeClassifierWeights(latest.weights)
  })

  it('refuses a model whose signature input is not [-1, 28, 28]', async () => {
    const exportDir = join(temp.dir, 'shape')
    const result = await exportOf(exportDir)
    const signaturePath = join(result.path, 'signature.json')
    const signature = JSON.parse(readFileSync(signaturePath, 'utf8')) as ExportSignature
    signature.signature_def.serving_default.inputs.x_input.shape = [-1, 784]
    writeFileSync(signaturePath, JSON.stringify(signature))
    await expect(loadExportedModel(exportDir, 1)).rejects.toThrow(`${result.path}: input x_input has shape [-1, 784], expected [-1, 28, 28]`)
  })

  it('resolves a version folder or an export directory, and names a missing version', async () => {
    const exportDir = join(temp.dir, 'resolve')
    await exportOf(exportDir)
    await exportOf(exportDir)
    expect(resolveExportPath(join(exportDir, '1'))).toEqual({exportDir, version: 1})
    expect(resolveExportPath(`${exportDir}/`)).toEqual({exportDir, version: 2})
    expect(() => resolveExportPath(join(exportDir, '9'))).toThrow(`${join(exportDir, '9')}: no such version (versions here: 1, 2)`)
    expect(() => resolveExportPath(join(temp.dir, 'nowhere'))).toThrow(UserError)
  })

  it('refuses to publish a model whose stock reload does not reproduce its logits, leaving nothing behind', async () => {
    const exportDir = join(temp.dir, 'refused')
    const broken = createClassifierWeights(HIDDEN, 3)
    broken.denseBias.assign(tf.fill([10], Number.NaN))
    await expect(exportOf(exportDir, {weights: broken})).rejects.toThrow(/^verification failed: .* differ from the checkpoint's by NaN/)
    disposeClassifierWeights(broken)
    expect(readdirSync(exportDir)).toEqual([])
    expect(unfinishedExports(exportDir)).toEqual([])
  })

  it('leaves no tensors behind when writing and loading', async () => {
    const exportDir = join(temp.dir, 'memory')
    await exportOf(exportDir)
    const before = tf.memory().numTensors
    await exportOf(exportDir)
    const loaded = await loadExportedModel(exportDir)
    disposeClassifierWeights(loaded.weights)
    expect(tf.memory().numTensors).toBe(before)
  })
})

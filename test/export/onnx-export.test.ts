import * as tf from '@tensorflow/tfjs'
import {readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {UserError} from '../../src/lib/core/errors.js'
import {sha256Hex} from '../../src/lib/core/files.js'
import {NO_ONNXRUNTIME_ENV, OnnxRuntimeModel} from '../../src/lib/export/engines/onnxruntime.js'
import {ExportSignature, listExportVersions, loadExportedModel, unfinishedExports, writeExport} from '../../src/lib/export/index.js'
import {onnxProtos} from '../../src/lib/export/onnx/onnx-proto.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {ClassifierWeights, createClassifierWeights, disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {makeTempDir} from '../helpers/cli.js'
import {mnistTestImages} from '../serving/serving-fixtures.js'

const HIDDEN = 8
const provenance = {
  checkpoint: {name: 'ckpt-5', path: 'checkpoints/ckpt-5', step: 5, epoch: 0},
  test_accuracy: 0.25,
  test_images: 100,
  training_config: {hidden: HIDDEN},
  toolkit_version: '0.1.0',
  backend: 'wasm',
}

function readSignature(folder: string): ExportSignature {
  return JSON.parse(readFileSync(join(folder, 'signature.json'), 'utf8')) as ExportSignature
}

/** Replaces a file of a version and records its new checksum, as a careless hand edit would. */
function replaceRecordedFile(folder: string, name: string, bytes: Uint8Array): void {
  writeFileSync(join(folder, name), bytes)
  const signature = readSignature(folder)
  signature.files[name] = {bytes: bytes.byteLength, sha256: sha256Hex(bytes)}
  writeFileSync(join(folder, 'signature.json'), JSON.stringify(signature))
}

describe('model.onnx in an exported version', () => {
  const temp = makeTempDir('mnist-rnn-onnx-export-')
  let weights: ClassifierWeights
  const probe = mnistTestImages(6).images

  beforeAll(async () => {
    await selectBackend('wasm')
    weights = createClassifierWeights(HIDDEN, 11)
  })
  afterAll(() => {
    disposeClassifierWeights(weights)
    temp.cleanup()
  })
  afterEach(() => {
    delete process.env[NO_ONNXRUNTIME_ENV]
  })

  const exportTo = (name: string, extra: {onnx?: boolean; onnxTolerance?: number} = {}) =>
    writeExport({weights, exportDir: join(temp.dir, name), provenance, probeImages: probe, ...extra})

  it('runs in ONNX Runtime with the checkpoint’s logits, and the version lists and loads with both formats', async () => {
    const result = await exportTo('both')
    const model = await OnnxRuntimeModel.create(readFileSync(join(result.path, 'model.onnx')), 1)
    const images = mnistTestImages(20).images
    const logits = await model.run(images, 20)
    await model.release()
    const ours = tf.tidy(() => classifierLogits(weights, tf.tensor3d(images, [20, 28, 28])).dataSync())
    expect(Math.max(...logits.map((value, i) => Math.abs(value - ours[i])))).toBeLessThan(1e-5)

    expect(listExportVersions(join(temp.dir, 'both'))).toMatchObject([{version: 1, valid: true, formats: ['tfjs-layers', 'onnx']}])
    const loaded = await loadExportedModel(join(temp.dir, 'both'), 1)
    expect(loaded.formats).toEqual(['tfjs-layers', 'onnx'])
    expect(loaded.onnxModel?.equals(readFileSync(join(result.path, 'model.onnx')))).toBe(true)
    disposeClassifierWeights(loaded.weights)
  })

  it('keeps a version without model.onnx (as exported before ONNX existed) valid, in the TF.js Layers format only', async () => {
    const result = await exportTo('layers-only', {onnx: false})
    expect(readdirSync(result.path).sort()).toEqual(['model.json', 'signature.json', 'weights.bin'])
    const signature = readSignature(result.path)
    expect(Object.keys(signature.files)).toEqual(['model.json', 'weights.bin'])
    expect(signature.provenance.verification.onnxruntime).toBeUndefined()
    expect(listExportVersions(join(temp.dir, 'layers-only'))).toMatchObject([{version: 1, valid: true, formats: ['tfjs-layers']}])
    const loaded = await loadExportedModel(join(temp.dir, 'layers-only'), 1)
    expect(loaded.onnxModel).toBeUndefined()
    disposeClassifierWeights(loaded.weights)
  })

  it('makes a version invalid when model.onnx changes, goes missing, or is not the x_input → y_output graph', async () => {
    const exportDir = join(temp.dir, 'tampered')
    const changed = await exportTo('tampered')
    const onnx = readFileSync(join(changed.path, 'model.onnx'))
    writeFileSync(join(changed.path, 'model.onnx'), Buffer.concat([onnx, Buffer.from([0])]))
    const missing = await exportTo('tampered')
    rmSync(join(missing.path, 'model.onnx'))
    const renamed = await exportTo('tampered')
    const {ModelProto} = onnxProtos()
    const decoded = ModelProto.toObject(ModelProto.decode(onnx), {longs: Number}) as {graph: {input: Array<{name: string}>; node: Array<{input: string[]}>}}
    decoded.graph.input[0].name = 'images'
    decoded.graph.node[0].input[0] = 'images'
    replaceRecordedFile(renamed.path, 'model.onnx', ModelProto.encode(ModelProto.fromObject(decoded)).finish())

    const entries = listExportVersions(exportDir)
    expect(entries.map((entry) => [entry.version, entry.valid])).toEqual([[1, false], [2, false], [3, false]])
    expect(entries[0].problem).toMatch(/^model\.onnx fails its recorded sha256/)
    expect(entries[1].problem).toBe('missing model.onnx (incomplete export)')
    expect(entries[2].problem).toBe("model.onnx's graph takes images [N, 28, 28], not x_input [N, 28, 28]")
    await expect(loadExportedModel(exportDir, 1)).rejects.toThrow(UserError)
  })

  it("refuses to publish when ONNX Runtime's logits are further from the checkpoint's than the tolerance, leaving nothing", async () => {
    await expect(exportTo('refused', {onnxTolerance: 1e-12})).rejects.toThrow(
      /^verification failed: ONNX Runtime's logits for model\.onnx differ from the checkpoint's by .* \(tolerance 1e-12\); nothing published$/,
    )
    expect(readdirSync(join(temp.dir, 'refused'))).toEqual([])
    expect(unfinishedExports(join(temp.dir, 'refused'))).toEqual([])
  })

  it('refuses to write model.onnx unverified where onnxruntime-node does not load, and says how to export without it', async () => {
    process.env[NO_ONNXRUNTIME_ENV] = '1'
    await expect(exportTo('no-ort')).rejects.toThrow(/^cannot verify model\.onnx: onnxruntime-node does not load here \(.*\); use --no-onnx/)
    expect(readdirSync(join(temp.dir, 'no-ort'))).toEqual([])
    const result = await exportTo('no-ort', {onnx: false})
    expect(result.version).toBe(1)
  })
})

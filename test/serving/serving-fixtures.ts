import * as tf from '@tensorflow/tfjs'

import {selectBackend} from '../../src/lib/backend.js'
import {loadMnistSplit} from '../../src/lib/data/mnist.js'
import {ExportResult, writeExport} from '../../src/lib/export/index.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {createClassifierWeights, disposeClassifierWeights} from '../../src/lib/model/weights.js'

/** Small models keep the serving tests fast; the seed picks which weights a version has. */
export const TEST_HIDDEN = 16
const PROBE_IMAGES = 4

const provenance = {
  checkpoint: {name: 'ckpt-1', path: 'checkpoints/ckpt-1', step: 1, epoch: 0},
  test_accuracy: 0.1,
  test_images: 10,
  training_config: {hidden: TEST_HIDDEN, seed: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam'},
  toolkit_version: '0.1.0',
  backend: 'wasm',
}

/** Real MNIST test images [count·784] and their labels. */
export function mnistTestImages(count: number): {images: Float32Array; labels: Uint8Array} {
  const set = loadMnistSplit('test', undefined, count)
  return {images: set.images, labels: set.labels}
}

/** Publishes version `version` of a 16-unit classifier made from `seed` into `exportDir` (with model.onnx unless `onnx` is false). */
export async function writeTestExport(exportDir: string, version: number, seed: number, options: {onnx?: boolean} = {}): Promise<ExportResult> {
  await selectBackend('wasm')
  const weights = createClassifierWeights(TEST_HIDDEN, seed)
  try {
    return await writeExport({weights, exportDir, version, provenance, probeImages: mnistTestImages(PROBE_IMAGES).images, onnx: options.onnx})
  } finally {
    disposeClassifierWeights(weights)
  }
}

/** What the model of `seed` answers for `images`, computed here without the server. */
export function referenceLogits(seed: number, images: Float32Array): Float32Array {
  const weights = createClassifierWeights(TEST_HIDDEN, seed)
  try {
    return tf.tidy(() => classifierLogits(weights, tf.tensor3d(images, [images.length / 784, 28, 28])).dataSync() as Float32Array)
  } finally {
    disposeClassifierWeights(weights)
  }
}

/** One image as 28 rows of 28, as TF Serving clients send it. */
export function imageRows(images: Float32Array, index: number): number[][] {
  const rows: number[][] = []
  for (let r = 0; r < 28; r++) rows.push(Array.from(images.subarray(index * 784 + r * 28, index * 784 + r * 28 + 28)))
  return rows
}

export function imageFlat(images: Float32Array, index: number): number[] {
  return Array.from(images.subarray(index * 784, index * 784 + 784))
}

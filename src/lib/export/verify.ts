import * as tf from '@tensorflow/tfjs'

import {classifierLogits} from '../model/classifier.js'
import {ClassifierWeights} from '../model/weights.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS} from '../core/image.js'
import {errorMessage, UserError} from '../core/errors.js'
import {OnnxRuntimeModel, onnxRuntimeStatus} from './engines/onnxruntime.js'
import {exportFolderHandler} from './layers-files.js'

/** Largest difference in logits an export may show against its checkpoint before it is refused. */
export const VERIFY_TOLERANCE = 1e-5
export const DEFAULT_PROBE_IMAGES = 64
/** The same for ONNX Runtime running model.onnx (another implementation of the LSTM, float32 throughout). */
export const ONNX_VERIFY_TOLERANCE = 1e-4

/**
 * Loads the Layers files in `folder` with stock `tf.loadLayersModel` and returns the largest
 * absolute difference between its logits and the classifier's (`classifierLogits`) on the probe
 * images. NaN when either side produced a NaN, so a comparison with the tolerance fails.
 */
export async function maxDifferenceFromStockLoader(folder: string, weights: ClassifierWeights, probeImages: Float32Array): Promise<number> {
  const count = probeImages.length / IMAGE_PIXELS
  const model = await tf.loadLayersModel(exportFolderHandler(folder))
  try {
    const difference = tf.tidy(() => {
      const images = tf.tensor3d(probeImages, [count, IMAGE_ROWS, IMAGE_COLS])
      const stock = model.predict(images) as tf.Tensor2D
      const ours = classifierLogits(weights, images)
      return tf.max(tf.abs(tf.sub(stock, ours)))
    })
    const [value] = await difference.data()
    difference.dispose()
    return value
  } finally {
    model.dispose()
  }
}

/**
 * Runs model.onnx's bytes in ONNX Runtime (one intra-op thread) on the probe images and returns the
 * largest absolute difference from the classifier's logits, and the onnxruntime-node version.
 * A UserError when onnxruntime-node does not load or refuses the model.
 */
export async function maxDifferenceFromOnnxRuntime(
  onnxModel: Uint8Array,
  weights: ClassifierWeights,
  probeImages: Float32Array,
): Promise<{maxAbsDifference: number; version: string}> {
  const status = await onnxRuntimeStatus()
  if (!status.loads) {
    throw new UserError(`cannot verify model.onnx: onnxruntime-node does not load here (${status.problem}); use --no-onnx to export only the TF.js Layers format`)
  }
  const count = probeImages.length / IMAGE_PIXELS
  let model: OnnxRuntimeModel
  try {
    model = await OnnxRuntimeModel.create(onnxModel, 1)
  } catch (error) {
    throw new UserError(`verification failed: ONNX Runtime refuses model.onnx (${errorMessage(error).split('\n')[0]}); nothing published`)
  }
  try {
    const theirs = await model.run(probeImages, count)
    const ours = tf.tidy(() => classifierLogits(weights, tf.tensor3d(probeImages, [count, IMAGE_ROWS, IMAGE_COLS])).dataSync())
    let maxAbsDifference = 0
    // Math.max keeps a NaN, so a NaN on either side fails the tolerance check.
    for (let i = 0; i < ours.length; i++) maxAbsDifference = Math.max(maxAbsDifference, Math.abs(theirs[i] - ours[i]))
    return {maxAbsDifference, version: status.version}
  } finally {
    await model.release()
  }
}

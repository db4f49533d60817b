import * as tf from '@tensorflow/tfjs'

import {classifierLogits} from '../model/classifier.js'
import {ClassifierWeights} from '../model/weights.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS} from '../core/image.js'
import {exportFolderHandler} from './layers-files.js'

/** Largest difference in logits an export may show against its checkpoint before it is refused. */
export const VERIFY_TOLERANCE = 1e-5
export const DEFAULT_PROBE_IMAGES = 64

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

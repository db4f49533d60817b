import * as tf from '@tensorflow/tfjs'

import {IMAGE_COLS, IMAGE_ROWS} from '../core/image.js'
import {lstmLastHidden} from './lstm.js'
import {ClassifierWeights} from './weights.js'

/**
 * Logits [batch, 10] for images [batch, 28, 28] (rows as time steps, pixels in [0, 1]).
 * Differentiable with respect to every weight; used by train, eval and serve alike.
 * The LSTM's implementation suits the active backend (see ./lstm.ts).
 */
export function classifierLogits(weights: ClassifierWeights, images: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const lastHidden = lstmLastHidden(images, weights.kernel, weights.recurrentKernel, weights.bias)
    return tf.add(tf.matMul(lastHidden, weights.denseKernel), weights.denseBias) as tf.Tensor2D
  })
}

/** `count` images, [count, 28, 28] row-major, as the tensor the classifier reads. */
export function imagesTensor(images: Float32Array, count: number): tf.Tensor3D {
  return tf.tensor3d(images, [count, IMAGE_ROWS, IMAGE_COLS])
}

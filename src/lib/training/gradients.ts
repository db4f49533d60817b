import * as tf from '@tensorflow/tfjs'

import {classifierLogits, imagesTensor} from '../model/classifier.js'
import {ClassifierWeights, WEIGHT_NAMES} from '../model/weights.js'
import {batchAccuracy, crossEntropyLoss, oneHotLabels} from './metrics.js'

export interface BatchGradients {
  /** The batch's mean softmax cross-entropy. */
  loss: tf.Scalar
  accuracy: tf.Scalar
  /** d loss / d weight, in WEIGHT_NAMES order (the order of the optimizer's stored slots). */
  gradients: tf.Tensor[]
}

/**
 * The gradients of a batch's mean loss with respect to the five weights, and the batch's loss and
 * accuracy from the same forward pass. Call inside tf.tidy.
 */
export function batchGradients(weights: ClassifierWeights, images: Float32Array, labels: Uint8Array, size: number): BatchGradients {
  const variables = WEIGHT_NAMES.map((name) => weights[name])
  const oneHot = oneHotLabels(labels)
  const input = imagesTensor(images, size)
  let accuracy: tf.Scalar | undefined
  const {value, grads} = tf.variableGrads(() => {
    const logits = classifierLogits(weights, input)
    // Kept out of the gradient's scope so the same forward pass yields the accuracy.
    accuracy = tf.keep(batchAccuracy(oneHot, logits))
    return crossEntropyLoss(oneHot, logits)
  }, variables)
  return {loss: value, accuracy: accuracy!, gradients: variables.map((variable) => grads[variable.name])}
}

import * as tf from '@tensorflow/tfjs'

import {sequentialBatches} from '../data/batches.js'
import {ImageSet} from '../data/mnist.js'
import {classifierLogits, imagesTensor} from '../model/classifier.js'
import {ClassifierWeights} from '../model/weights.js'
import {NUM_CLASSES} from '../core/image.js'

/** Batch size for forward-only passes over a whole set (no gradients, so larger than training's). */
export const EVALUATION_BATCH_SIZE = 500

export interface LossAndAccuracy {
  loss: number
  accuracy: number
}

export function oneHotLabels(labels: Uint8Array): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), NUM_CLASSES) as tf.Tensor2D)
}

/** Mean softmax cross-entropy of logits against one-hot labels: the training objective. */
export function crossEntropyLoss(oneHot: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar
}

/** Fraction of rows whose largest logit is the true class. */
export function batchAccuracy(oneHot: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(oneHot, 1)), 'float32')) as tf.Scalar)
}

/** Mean loss and accuracy of the classifier over a whole set; zeros for an empty set. */
export function lossAndAccuracyOf(weights: ClassifierWeights, set: ImageSet, batchSize = EVALUATION_BATCH_SIZE): LossAndAccuracy {
  if (set.count === 0) return {loss: 0, accuracy: 0}
  let lossSum = 0
  let correct = 0
  for (const batch of sequentialBatches(set, batchSize)) {
    const [loss, accuracy] = tf.tidy(() => {
      const oneHot = oneHotLabels(batch.labels)
      const logits = classifierLogits(weights, imagesTensor(batch.images, batch.size))
      return [crossEntropyLoss(oneHot, logits), batchAccuracy(oneHot, logits)]
    })
    lossSum += loss.dataSync()[0] * batch.size
    correct += accuracy.dataSync()[0] * batch.size
    tf.dispose([loss, accuracy])
  }
  return {loss: lossSum / set.count, accuracy: Math.round(correct) / set.count}
}

import * as tf from '@tensorflow/tfjs'

import {sequentialBatches} from '../data/batches.js'
import {ImageSet} from '../data/mnist.js'
import {classifierLogits, imagesTensor} from '../model/classifier.js'
import {ClassifierWeights} from '../model/weights.js'
import {IMAGE_PIXELS, NUM_CLASSES} from '../core/image.js'

/** Batch size for forward-only passes over a whole set (no gradients, so larger than training's). */
export const EVALUATION_BATCH_SIZE = 500

export interface LossAndAccuracy {
  loss: number
  accuracy: number
}

/** An image the classifier got wrong. */
export interface Misclassified {
  /** Position in the scored set. */
  index: number
  label: number
  predicted: number
  /** 784 pixels in [0, 1]. */
  image: Float32Array
}

/** A set's loss and accuracy, and its first misclassified images (at most the number asked for). */
export interface SetScore extends LossAndAccuracy {
  misclassified: Misclassified[]
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

/**
 * Mean loss and accuracy of the classifier over a whole set (zeros for an empty set), and with
 * `keepErrors` its first misclassified images in set order.
 */
export function lossAndAccuracyOf(weights: ClassifierWeights, set: ImageSet, batchSize = EVALUATION_BATCH_SIZE, keepErrors = 0): SetScore {
  const misclassified: Misclassified[] = []
  if (set.count === 0) return {loss: 0, accuracy: 0, misclassified}
  let lossSum = 0
  let correct = 0
  let offset = 0
  for (const batch of sequentialBatches(set, batchSize)) {
    const wantErrors = misclassified.length < keepErrors
    const [loss, accuracy, predictions] = tf.tidy(() => {
      const oneHot = oneHotLabels(batch.labels)
      const logits = classifierLogits(weights, imagesTensor(batch.images, batch.size))
      return [crossEntropyLoss(oneHot, logits), batchAccuracy(oneHot, logits), ...(wantErrors ? [tf.argMax(logits, 1)] : [])]
    })
    lossSum += loss.dataSync()[0] * batch.size
    correct += accuracy.dataSync()[0] * batch.size
    if (predictions) {
      const predicted = predictions.dataSync()
      for (let row = 0; row < batch.size && misclassified.length < keepErrors; row++) {
        if (predicted[row] === batch.labels[row]) continue
        const image = batch.images.slice(row * IMAGE_PIXELS, (row + 1) * IMAGE_PIXELS)
        misclassified.push({index: offset + row, label: batch.labels[row], predicted: predicted[row], image})
      }
    }
    tf.dispose([loss, accuracy, ...(predictions ? [predictions] : [])])
    offset += batch.size
  }
  return {loss: lossSum / set.count, accuracy: Math.round(correct) / set.count, misclassified}
}

import * as tf from '@tensorflow/tfjs'
import {performance} from 'node:perf_hooks'
import {setImmediate as yieldToEventLoop} from 'node:timers/promises'

import {sequentialBatches} from '../data/batches.js'
import {ImageSet} from '../data/mnist.js'
import {classifierLogits} from '../model/classifier.js'
import {ClassifierWeights} from '../model/weights.js'
import {IMAGE_PIXELS, NUM_CLASSES} from '../core/image.js'
import {imagesTensor} from '../model/classifier.js'
import {requireInteger} from '../core/validation.js'
import {Misclassified} from '../training/metrics.js'
import {
  ClassMetrics,
  ConfusedPair,
  ConfusionMatrix,
  accuracyOf,
  addToConfusionMatrix,
  correctOf,
  emptyConfusionMatrix,
  mostConfusedPairs,
  perClassMetrics,
} from './metrics.js'

export const DEFAULT_EVAL_BATCH_SIZE = 1000
/** As many misclassified digits as the error grid shows. */
export const MAX_KEPT_ERRORS = 100
export const CONFUSED_PAIRS_REPORTED = 10

/** Logits [B, 10] for images [B, 28, 28]; the caller of evaluate() disposes nothing. */
export type LogitsFunction = (images: tf.Tensor3D) => tf.Tensor2D
/** Logits [count·10] for `count` images [count·784], as an engine outside TF.js answers them. */
export type BatchLogitsFunction = (images: Float32Array, count: number) => Promise<Float32Array>

/** An image the model got wrong: shared with training, whose validation keeps them for TensorBoard. */
export type {Misclassified}

export interface EvaluationResult {
  images: number
  correct: number
  accuracy: number
  /** Mean softmax cross-entropy (natural log) of the true labels. */
  meanLoss: number
  seconds: number
  imagesPerSecond: number
  confusionMatrix: ConfusionMatrix
  perClass: ClassMetrics[]
  confusedPairs: ConfusedPair[]
  /** The first misclassified images in set order, at most `keepErrors`. */
  misclassified: Misclassified[]
}

export interface EvaluationOptions {
  batchSize?: number
  keepErrors?: number
  /** After each batch: images scored so far, out of the total. */
  onProgress?: (done: number, total: number) => void
}

/**
 * Scores a model on a set, streaming it in batches (only one batch is a tensor at a time):
 * accuracy, mean cross-entropy, confusion matrix, per-class metrics, most confused pairs.
 */
export function evaluate(logitsOf: LogitsFunction, set: ImageSet, options: EvaluationOptions = {}): Promise<EvaluationResult> {
  return evaluateBatches(
    async (images, count) => {
      const logitsTensor = tf.tidy(() => logitsOf(imagesTensor(images, count)))
      const logits = (await logitsTensor.data()) as Float32Array
      logitsTensor.dispose()
      return logits
    },
    set,
    options,
  )
}

/** The same scoring for any engine: `logitsOf` answers [count, 10] logits for `count` images [count·784]. */
export async function evaluateBatches(logitsOf: BatchLogitsFunction, set: ImageSet, options: EvaluationOptions = {}): Promise<EvaluationResult> {
  const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH_SIZE
  const keepErrors = options.keepErrors ?? MAX_KEPT_ERRORS
  requireInteger(batchSize, 'batch size', 1)
  const matrix = emptyConfusionMatrix()
  const misclassified: Misclassified[] = []
  let lossSum = 0
  let done = 0
  let busyMs = 0
  for (const batch of sequentialBatches(set, batchSize)) {
    const started = performance.now()
    const logits = await logitsOf(batch.images, batch.size)
    const predictions = new Uint8Array(batch.size)
    for (let row = 0; row < batch.size; row++) {
      const scored = scoreRow(logits, row, batch.labels[row])
      predictions[row] = scored.predicted
      lossSum += scored.loss
      if (scored.predicted !== batch.labels[row] && misclassified.length < keepErrors) {
        misclassified.push({
          index: done + row,
          label: batch.labels[row],
          predicted: scored.predicted,
          image: batch.images.slice(row * IMAGE_PIXELS, (row + 1) * IMAGE_PIXELS),
        })
      }
    }
    addToConfusionMatrix(matrix, batch.labels, predictions)
    busyMs += performance.now() - started
    done += batch.size
    options.onProgress?.(done, set.count)
    await yieldToEventLoop()
  }
  const seconds = busyMs / 1000
  return {
    images: done,
    correct: correctOf(matrix),
    accuracy: accuracyOf(matrix),
    meanLoss: done === 0 ? 0 : lossSum / done,
    seconds,
    imagesPerSecond: seconds > 0 ? done / seconds : 0,
    confusionMatrix: matrix,
    perClass: perClassMetrics(matrix),
    confusedPairs: mostConfusedPairs(matrix, CONFUSED_PAIRS_REPORTED),
    misclassified,
  }
}

/** Scores the classifier's weights through the shared fast path, `classifierLogits`. */
export function evaluateWeights(weights: ClassifierWeights, set: ImageSet, options: EvaluationOptions = {}): Promise<EvaluationResult> {
  return evaluate((images) => classifierLogits(weights, images), set, options)
}

/** Arg-max class and cross-entropy −log softmax(logits)[label] of one row, in float64. */
function scoreRow(logits: Float32Array, row: number, label: number): {predicted: number; loss: number} {
  const offset = row * NUM_CLASSES
  let predicted = 0
  let max = logits[offset]
  for (let k = 1; k < NUM_CLASSES; k++) {
    if (logits[offset + k] > max) {
      max = logits[offset + k]
      predicted = k
    }
  }
  let sumExp = 0
  for (let k = 0; k < NUM_CLASSES; k++) sumExp += Math.exp(logits[offset + k] - max)
  return {predicted, loss: max + Math.log(sumExp) - logits[offset + label]}
}

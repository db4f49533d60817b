import * as tf from '@tensorflow/tfjs'

import {classifierLogits} from '../../model/classifier.js'
import {ClassifierWeights, WeightArrays, classifierWeightsFromArrays, disposeClassifierWeights} from '../../model/weights.js'
import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../../core/image.js'

/** A verified model version as plain arrays: what the manager hands to each inference worker. */
export interface ModelWeightsMessage {
  version: number
  hidden: number
  weights: WeightArrays
}

/**
 * The model "session" inside one inference worker: the loaded versions' weights as tensors, and
 * forward passes through `classifierLogits`. Every pass runs in `tf.tidy`, so the tensor count
 * stays at the weights' own.
 */
export class ModelRunner {
  private readonly versions = new Map<number, ClassifierWeights>()

  /** `warmBatchSize`: the largest batch a warm-up runs, so the first real batch is not the slow one. */
  constructor(private readonly warmBatchSize: number) {}

  /** Builds the weights and warms them; refuses a version whose warm-up gives non-finite logits. */
  load(model: ModelWeightsMessage): void {
    if (this.versions.has(model.version)) return
    const weights = classifierWeightsFromArrays(model.weights, model.hidden)
    try {
      for (const batchSize of new Set([1, this.warmBatchSize])) {
        const logits = this.forward(weights, new Float32Array(batchSize * IMAGE_ROWS * IMAGE_COLS), batchSize)
        if (logits.length !== batchSize * NUM_CLASSES || !logits.every(Number.isFinite)) {
          throw new Error(`version ${model.version} gives non-finite logits on a blank image (warm-up)`)
        }
      }
    } catch (error) {
      disposeClassifierWeights(weights)
      throw error
    }
    this.versions.set(model.version, weights)
  }

  unload(version: number): void {
    const weights = this.versions.get(version)
    if (!weights) return
    this.versions.delete(version)
    disposeClassifierWeights(weights)
  }

  /** [count, 10] logits for `count` images of a loaded version. */
  run(version: number, images: Float32Array, count: number): Float32Array {
    const weights = this.versions.get(version)
    if (!weights) throw new Error(`version ${version} is not loaded in this worker`)
    return this.forward(weights, images, count)
  }

  get numTensors(): number {
    return tf.memory().numTensors
  }

  private forward(weights: ClassifierWeights, images: Float32Array, count: number): Float32Array {
    return tf.tidy(() => {
      const batch = tf.tensor3d(images.subarray(0, count * IMAGE_ROWS * IMAGE_COLS), [count, IMAGE_ROWS, IMAGE_COLS])
      // A copy: a backend may hand back a view of its own memory, which must not be transferred.
      return new Float32Array(classifierLogits(weights, batch).dataSync())
    })
  }
}

import * as tf from '@tensorflow/tfjs'

import {classifierLogits} from '../../model/classifier.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS} from '../../core/image.js'
import {ClassifierWeights, WeightArrays, classifierWeightsFromArrays, disposeClassifierWeights} from '../../model/weights.js'
import {EngineModel} from './engine.js'

/** A version's weights as tensors on the active TF.js backend, run through our fast LSTM (`classifierLogits`). */
export class TfjsModel implements EngineModel {
  readonly engine = 'tfjs' as const
  private released = false

  constructor(private readonly weights: ClassifierWeights) {}

  static fromArrays(weights: WeightArrays, hidden: number): TfjsModel {
    return new TfjsModel(classifierWeightsFromArrays(weights, hidden))
  }

  async run(images: Float32Array, count: number): Promise<Float32Array> {
    return this.runSync(images, count)
  }

  /** The same pass, synchronously (the wasm and cpu backends read tensors back synchronously). */
  runSync(images: Float32Array, count: number): Float32Array {
    if (this.released) throw new Error('the model was released')
    return tf.tidy(() => {
      const batch = tf.tensor3d(images.subarray(0, count * IMAGE_PIXELS), [count, IMAGE_ROWS, IMAGE_COLS])
      // A copy: a backend may hand back a view of its own memory, which must not be transferred.
      return new Float32Array(classifierLogits(this.weights, batch).dataSync())
    })
  }

  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    disposeClassifierWeights(this.weights)
  }
}

import * as tf from '@tensorflow/tfjs'

import {classifierLogits} from '../../src/lib/model/classifier.js'
import {ClassifierWeights, createClassifierWeights, disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../../src/lib/core/image.js'
import {ModelMetadata, PredictRequest, PredictResult, ServingCore, ServingError, VersionStatus} from '../../src/lib/serving/api.js'

export const TEST_MODEL_NAME = 'mnist'
export const TEST_VERSION = 3
export const TEST_SIGNATURE = 'serving_default'
/** Predictions waiting beyond this many answer UNAVAILABLE, like a full batching queue. */
export const TEST_QUEUE_LIMIT = 2

/**
 * A small real ServingCore for the gRPC tests while the serving engineer's core is being built:
 * one version of a 16-unit classifier, answered through `classifierLogits`, with a queue that can
 * be held (to let deadlines pass, or fill it) and released.
 */
export class TestServingCore implements ServingCore {
  readonly weights: ClassifierWeights = createClassifierWeights(16, 1)
  private held: Array<() => void> = []
  private holding = false
  private waiting = 0
  /** Images run through the model so far. */
  imagesPredicted = 0

  /** Predictions wait (up to the queue limit) until release(). */
  hold(): void {
    this.holding = true
  }

  release(): void {
    this.holding = false
    for (const resume of this.held.splice(0)) resume()
  }

  get queued(): number {
    return this.waiting
  }

  private checkModel(modelName: string, version?: number): void {
    if (modelName !== TEST_MODEL_NAME) throw new ServingError('NOT_FOUND', `Servable not found for request: Latest(${modelName})`)
    if (version !== undefined && version !== TEST_VERSION) {
      throw new ServingError('NOT_FOUND', `Servable not found for request: Specific(${modelName}, ${version})`)
    }
  }

  async predict(request: PredictRequest): Promise<PredictResult> {
    this.checkModel(request.modelName, request.version)
    const signatureName = request.signatureName ?? TEST_SIGNATURE
    if (signatureName !== TEST_SIGNATURE) throw new ServingError('NOT_FOUND', `signature ${signatureName} not found`)
    if (this.holding) {
      if (this.waiting >= TEST_QUEUE_LIMIT) throw new ServingError('UNAVAILABLE', 'the request queue is full; retry later', 1)
      this.waiting++
      await new Promise<void>((resume) => this.held.push(resume))
      this.waiting--
    }
    const logits = tf.tidy(() => {
      const images = tf.tensor3d(request.images, [request.count, IMAGE_ROWS, IMAGE_COLS])
      return classifierLogits(this.weights, images).dataSync() as Float32Array
    })
    this.imagesPredicted += request.count
    return {modelName: TEST_MODEL_NAME, version: TEST_VERSION, logits}
  }

  metadata(modelName: string, version?: number): ModelMetadata {
    this.checkModel(modelName, version)
    return {
      modelName: TEST_MODEL_NAME,
      version: TEST_VERSION,
      signatures: {
        [TEST_SIGNATURE]: {
          methodName: 'tensorflow/serving/predict',
          inputs: {x_input: {name: 'x_input', dtype: 'DT_FLOAT', shape: [-1, IMAGE_ROWS, IMAGE_COLS]}},
          outputs: {y_output: {name: 'y_output', dtype: 'DT_FLOAT', shape: [-1, NUM_CLASSES]}},
        },
      },
    }
  }

  status(modelName: string, version?: number): VersionStatus[] {
    this.checkModel(modelName, version)
    return [{version: TEST_VERSION, state: 'AVAILABLE', errorMessage: ''}]
  }

  versionLabels(modelName: string): Record<string, number> {
    this.checkModel(modelName)
    return {}
  }

  isReady(): boolean {
    return true
  }

  dispose(): void {
    this.release()
    disposeClassifierWeights(this.weights)
  }
}

import * as tf from '@tensorflow/tfjs'

import {IMAGE_PIXELS, NUM_CLASSES} from '../../core/image.js'
import {WeightArrays} from '../../model/weights.js'
import {EngineModel, EngineModelSource, EngineName, EngineOptions} from '../../export/engines/engine.js'
import {loadEngineModel} from '../../export/engines/select.js'

/** A version as the model manager verified it: its weights, and model.onnx's bytes when it has them. */
export interface VerifiedVersion {
  version: number
  hidden: number
  weights: WeightArrays
  onnxModel?: Uint8Array
}

/** A verified version as its engine loads it: what the pool hands to each inference worker. */
export interface VersionPayload {
  version: number
  source: EngineModelSource
}

/** What the engine needs of a version; an Error when an onnxruntime server meets a version without model.onnx. */
export function payloadFor(engine: EngineName, verified: VerifiedVersion): VersionPayload {
  if (engine === 'tfjs') return {version: verified.version, source: {engine, hidden: verified.hidden, weights: verified.weights}}
  if (!verified.onnxModel) {
    throw new Error(`version ${verified.version} has no model.onnx and this server runs the onnxruntime engine (serve it with --engine tfjs)`)
  }
  return {version: verified.version, source: {engine, onnxModel: verified.onnxModel}}
}

/**
 * The loaded versions of one inference worker (or of the serving thread itself), each in its
 * engine: TF.js weights run through our fast LSTM, or model.onnx in an ONNX Runtime session.
 * A TF.js pass runs in `tf.tidy`, so the tensor count stays at the weights' own.
 */
export class ModelRunner {
  private readonly versions = new Map<number, EngineModel>()

  /** `warmBatchSize`: the largest batch a warm-up runs, so the first real batch is not the slow one. */
  constructor(
    private readonly warmBatchSize: number,
    private readonly engineOptions: EngineOptions,
  ) {}

  /** Loads a version into its engine and warms it; refuses a version whose warm-up gives non-finite logits. */
  async load(payload: VersionPayload): Promise<void> {
    if (this.versions.has(payload.version)) return
    const model = await loadEngineModel(payload.source, this.engineOptions)
    try {
      for (const batchSize of new Set([1, this.warmBatchSize])) {
        const logits = await model.run(new Float32Array(batchSize * IMAGE_PIXELS), batchSize)
        if (logits.length !== batchSize * NUM_CLASSES || !logits.every(Number.isFinite)) {
          throw new Error(`version ${payload.version} gives non-finite logits on a blank image (warm-up)`)
        }
      }
    } catch (error) {
      await model.release()
      throw error
    }
    this.versions.set(payload.version, model)
  }

  async unload(version: number): Promise<void> {
    const model = this.versions.get(version)
    if (!model) return
    this.versions.delete(version)
    await model.release()
  }

  /** [count, 10] logits for `count` images of a loaded version. */
  run(version: number, images: Float32Array, count: number): Promise<Float32Array> {
    const model = this.versions.get(version)
    if (!model) return Promise.reject(new Error(`version ${version} is not loaded in this worker`))
    return model.run(images, count)
  }

  async close(): Promise<void> {
    for (const version of [...this.versions.keys()]) await this.unload(version)
  }

  /** TF.js tensors held (the tfjs engine's weights; 0 for onnxruntime, whose memory is its own). */
  get numTensors(): number {
    return tf.memory().numTensors
  }
}

import {WeightArrays} from '../../model/weights.js'

/**
 * An engine runs an exported version: `tfjs` runs the TF.js Layers weights through our fast LSTM
 * on the selected TF.js backend; `onnxruntime` runs model.onnx in ONNX Runtime (onnxruntime-node).
 */
export const ENGINE_NAMES = ['onnxruntime', 'tfjs'] as const
export type EngineName = (typeof ENGINE_NAMES)[number]
/** `auto`: onnxruntime when onnxruntime-node loads and the version has model.onnx, else tfjs. */
export type EngineChoice = 'auto' | EngineName
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', ...ENGINE_NAMES]

/** Which engine runs a model, and why (what `serve`'s banner, `eval`'s header, `info` and /metrics say). */
export interface EngineSelection {
  engine: EngineName
  reason: string
}

/** What an engine loads a version from: the weights (tfjs) or model.onnx's bytes (onnxruntime). */
export type EngineModelSource =
  | {engine: 'tfjs'; hidden: number; weights: WeightArrays}
  | {engine: 'onnxruntime'; onnxModel: Uint8Array}

export interface EngineOptions {
  /** ONNX Runtime's intra-op threads (the calling thread counts as one); ignored by tfjs. */
  onnxThreads: number
}

/** One version loaded into an engine. */
export interface EngineModel {
  readonly engine: EngineName
  /** [count, 10] logits for `count` images [count, 28, 28] (row-major), in a fresh array the caller owns. */
  run(images: Float32Array, count: number): Promise<Float32Array>
  release(): Promise<void>
}

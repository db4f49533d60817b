import {BackendName} from '../backend.js'
import {ModelWeightsMessage} from './model-runner.js'

/** What the pool tells an inference worker; each carries an id its reply echoes. */
export type WorkerRequest =
  | {type: 'load'; id: number; model: ModelWeightsMessage}
  | {type: 'unload'; id: number; version: number}
  | {type: 'run'; id: number; version: number; images: Float32Array; count: number}

export type WorkerReply =
  | {id: number; ok: true; logits?: Float32Array; numTensors: number}
  | {id: number; ok: false; error: string; numTensors: number}

export interface InferenceWorkerData {
  backend: BackendName
  warmBatchSize: number
}

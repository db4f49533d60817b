import {BackendChoice, BackendName} from '../../backend.js'
import {EngineName, EngineOptions} from '../../export/engines/engine.js'
import {VersionPayload} from './model-runner.js'

/** What the pool tells an inference worker; each carries an id its reply echoes. */
export type WorkerRequest =
  | {type: 'load'; id: number; payload: VersionPayload}
  | {type: 'unload'; id: number; version: number}
  | {type: 'run'; id: number; version: number; images: Float32Array; count: number}

export type WorkerReply =
  | {type: 'reply'; id: number; ok: true; logits?: Float32Array; numTensors: number}
  | {type: 'reply'; id: number; ok: false; error: string; numTensors: number}

/**
 * What a worker says once, after setting up its engine: ready (with the TF.js backend it chose,
 * for the tfjs engine), or why it cannot start.
 */
export type WorkerStartup = {type: 'ready'; backend?: BackendName} | {type: 'failed'; error: string}

export type WorkerMessage = WorkerReply | WorkerStartup

export interface InferenceWorkerData {
  engine: EngineName
  /** The tfjs engine's backend. */
  backend: BackendChoice
  engineOptions: EngineOptions
  warmBatchSize: number
}

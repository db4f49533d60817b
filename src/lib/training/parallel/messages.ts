import {BackendName} from '../../backend.js'
import {WeightArrays} from '../../model/weights.js'

/** What a gradient worker is started with. */
export interface GradientWorkerData {
  /** The main thread's backend: every worker uses the same one. */
  backend: BackendName
  hidden: number
}

/** What the pool asks of a gradient worker; each carries an id its reply echoes. */
export type GradientRequest =
  /** Gradients of the slice's mean loss at these weights. */
  | {type: 'gradients'; id: number; weights: WeightArrays; images: Float32Array; labels: Uint8Array; count: number}

export type GradientReply =
  /** cpuMs: the worker thread's CPU time for the request, where the OS reports it (bench:train's estimate). */
  | {type: 'gradients'; id: number; gradients: WeightArrays; loss: number; accuracy: number; numTensors: number; cpuMs?: number}
  | {type: 'error'; id: number; error: string}

/** What a worker says once, after choosing its backend. */
export type GradientWorkerStartup = {type: 'ready'; backend: BackendName; wasmThreads: number} | {type: 'failed'; error: string}

export type GradientWorkerMessage = GradientReply | GradientWorkerStartup

import {availableParallelism} from 'node:os'

import {BackendChoice} from '../backend.js'
import {UserError} from '../core/errors.js'
import {DEFAULT_EXPORT_DIR} from '../export/format.js'
import {requireInteger} from '../core/validation.js'
import {ENGINE_CHOICES, EngineChoice, EngineName} from '../export/engines/engine.js'

export const DEFAULT_MODEL_NAME = 'mnist'
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 5000

/** What `mnist-rnn serve` runs with. */
export interface ServeOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  modelDir: string
  modelName: string
  /** Serve only this version; default: the highest valid one, watched for newer. */
  version?: number
  maxBatchSize: number
  batchTimeoutMs: number
  maxQueue: number
  /** False: one forward pass per request (`--no-batching`). */
  batching: boolean
  /** Inference worker threads; 0 runs inference on the serving thread. Default: the engine's (see defaultWorkers). */
  workers?: number
  pollSeconds: number
  /** Largest JSON body, in body-parser's notation ("1mb", "512kb"). */
  bodyLimit: string
  /** The tfjs engine's backend, chosen by each inference worker (auto: tensorflow, else wasm, else cpu). */
  backend: BackendChoice
  /** Serve the drawing page at `GET /` to browsers (`--no-ui` turns it off). */
  ui: boolean
  /** What runs the versions (auto, the default: onnxruntime when it loads and the version has model.onnx, else tfjs). */
  engine?: EngineChoice
  /** ONNX Runtime's intra-op threads per session. Default: DEFAULT_ONNX_THREADS. */
  onnxThreads?: number
}

export const SERVE_DEFAULTS = {
  host: DEFAULT_HOST,
  port: DEFAULT_PORT,
  modelDir: DEFAULT_EXPORT_DIR,
  modelName: DEFAULT_MODEL_NAME,
  maxBatchSize: 64,
  batchTimeoutMs: 2,
  maxQueue: 1024,
  batching: true,
  pollSeconds: 5,
  engine: 'auto',
  bodyLimit: '1mb',
  ui: true,
} as const

/**
 * Sizing for this machine's cores (measured with bench/serve.ts; see README "Engines"):
 * tfjs: one worker thread per core, each running its own forward passes;
 * onnxruntime: SEE_MEASUREMENTS.
 */
export function defaultWorkers(engine: EngineName): number {
  return engine === 'tfjs' ? availableParallelism() : DEFAULT_ONNX_WORKERS
}
export const DEFAULT_ONNX_WORKERS = 1
export const DEFAULT_ONNX_THREADS = 1

const BODY_LIMIT_PATTERN = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i
const BYTES_PER_UNIT: Record<string, number> = {b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3}

/** Bytes in a size like "1mb" or "512kb" (binary units, as body-parser reads them); NaN if malformed. */
export function parseByteSize(text: string): number {
  const match = BODY_LIMIT_PATTERN.exec(text.trim())
  if (!match) return Number.NaN
  return Math.floor(Number(match[1]) * BYTES_PER_UNIT[(match[2] ?? 'b').toLowerCase()])
}
const MAX_PORT = 65535

/** UserError naming the first option out of range. */
export function checkServeOptions(options: ServeOptions): void {
  requireInteger(options.port, '--port', 0)
  if (options.port > MAX_PORT) throw new UserError(`--port must be at most ${MAX_PORT}, got ${options.port}`)
  requireInteger(options.maxBatchSize, '--max-batch-size', 1)
  requireInteger(options.maxQueue, '--max-queue', 1)
  requireInteger(options.workers, '--workers', 0)
  requireInteger(options.onnxThreads, '--onnx-threads', 1)
  if (options.engine !== undefined && !ENGINE_CHOICES.includes(options.engine)) throw new UserError(`--engine must be one of ${ENGINE_CHOICES.join(', ')}, got ${options.engine}`)
  requireInteger(options.version, '--version', 1)
  if (!(options.batchTimeoutMs >= 0)) throw new UserError(`--batch-timeout-ms must be ≥ 0, got ${options.batchTimeoutMs}`)
  if (!(options.pollSeconds > 0)) throw new UserError(`--poll-seconds must be > 0, got ${options.pollSeconds}`)
  if (!(parseByteSize(options.bodyLimit) > 0)) throw new UserError(`--body-limit must be a size like 1mb or 512kb, got ${options.bodyLimit}`)
  if (!options.modelName || /[/:\s]/.test(options.modelName)) throw new UserError(`--model-name must be a word without "/", ":" or spaces, got "${options.modelName}"`)
}

import {SignatureDef} from '../export/format.js'

/**
 * What the REST app and the gRPC service both call: one model manager and one batching queue
 * behind them, so neither handler knows about versions on disk or about batching.
 */

/** Status codes as TensorFlow Serving uses them; REST maps them to HTTP statuses. */
export type ServingErrorCode = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'UNAVAILABLE' | 'FAILED_PRECONDITION' | 'INTERNAL'

export class ServingError extends Error {
  constructor(
    readonly code: ServingErrorCode,
    message: string,
    /** Seconds a client should wait before retrying (queue full, shutting down). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message)
    this.name = 'ServingError'
  }
}

export const HTTP_STATUS_OF: Record<ServingErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  FAILED_PRECONDITION: 412,
  UNAVAILABLE: 503,
  INTERNAL: 500,
}

export interface PredictRequest {
  modelName: string
  /** A pinned version; the newest loaded version when absent. */
  version?: number
  /** Defaults to "serving_default". */
  signatureName?: string
  /** `count` images, [count, 28, 28] row-major float32, already validated as finite. */
  images: Float32Array
  count: number
}

/** Images waiting for their logits, in the batcher's queue or the inference pool's. */
export interface PendingLogits {
  version: number
  /** [count, 28, 28] row-major. */
  images: Float32Array
  count: number
  resolve: (logits: Float32Array) => void
  reject: (error: unknown) => void
}

export interface PredictResult {
  modelName: string
  version: number
  /** [count, 10] logits, row-major. */
  logits: Float32Array
}

export interface ModelMetadata {
  modelName: string
  version: number
  signatures: Record<string, SignatureDef>
}

/** TF Serving's ModelVersionStatus states. */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END'

export interface VersionStatus {
  version: number
  state: VersionState
  /** Empty when fine; why a version failed to load otherwise. */
  errorMessage: string
}

/** Where the serving layer reports what happens (version loads, refusals, worker restarts). */
export interface ServingLog {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

/**
 * Model, version checks, signature check and input checks happen inside `predict` (images of the
 * wrong length, non-finite pixels, an empty batch, one over the size limit: INVALID_ARGUMENT;
 * a full queue: UNAVAILABLE with retryAfterSeconds), so every front end answers them alike.
 */
export interface ServingCore {
  predict(request: PredictRequest): Promise<PredictResult>
  metadata(modelName: string, version?: number): ModelMetadata
  status(modelName: string, version?: number): VersionStatus[]
}

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

/**
 * Which version a request names, as TF Serving's ModelSpec does: a number (`/versions/N`,
 * `model_spec.version`), a label (`/labels/NAME`, `model_spec.version_label`), or neither: the
 * highest AVAILABLE version.
 */
export type VersionChoice = number | {label: string}

/**
 * Which versions are loaded and AVAILABLE at once: TF Serving's ServableVersionPolicy
 * (file_system_storage_path_source.proto): the N highest that load, all of them, or specific ones.
 */
export type VersionPolicy = {kind: 'latest'; numVersions: number} | {kind: 'all'} | {kind: 'specific'; versions: number[]}

export interface PredictRequest {
  modelName: string
  /** A version or label; the highest AVAILABLE version when absent. */
  version?: VersionChoice
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
  metadata(modelName: string, version?: VersionChoice): ModelMetadata
  /** Every version known (loaded, unloaded, refused), highest first; or the one `version` names. */
  status(modelName: string, version?: VersionChoice): VersionStatus[]
  /** The model's version labels (label → version), as its model config maps them. */
  versionLabels(modelName: string): Record<string, number>
  /**
   * Readiness, for /readyz and the V2 /v2/health/ready: true while a version is AVAILABLE and no
   * graceful shutdown has begun. (Liveness is the process answering at all.)
   */
  isReady(): boolean
  /** The V2 metadata's platform: the format of what runs (default V2_PLATFORM, the TF.js Layers model). */
  readonly platform?: string
}

import {DEFAULT_SIGNATURE_NAME} from '../../export/format.js'
import {IMAGE_PIXELS} from '../../core/image.js'
import {Batcher} from './batcher.js'
import {ModelManager} from './model-manager.js'
import {ModelMetadata, PredictRequest, PredictResult, ServingCore, ServingError, VersionChoice, VersionStatus} from '../api.js'

function invalid(message: string): ServingError {
  return new ServingError('INVALID_ARGUMENT', message)
}

/** Checks a request's images: the right length, at least one, every pixel finite. */
function checkImages(request: PredictRequest): void {
  if (!Number.isInteger(request.count) || request.count < 1) throw invalid('empty batch: the request holds no images')
  if (request.images.length !== request.count * IMAGE_PIXELS) {
    throw invalid(`${request.images.length} pixel values for ${request.count} images (${request.count * IMAGE_PIXELS} expected)`)
  }
  for (let i = 0; i < request.images.length; i++) {
    if (!Number.isFinite(request.images[i])) {
      throw invalid(`image ${Math.floor(i / IMAGE_PIXELS)}, pixel ${i % IMAGE_PIXELS} is ${request.images[i]}; pixels must be finite numbers`)
    }
  }
}

/**
 * The one ServingCore behind every front end (REST, gRPC): the model manager says which version
 * answers, the batcher merges concurrent requests into forward passes.
 */
export class BatchingServingCore implements ServingCore {
  private draining = false

  constructor(
    private readonly manager: ModelManager,
    private readonly batcher: Batcher,
    readonly platform?: string,
  ) {}

  async predict(request: PredictRequest): Promise<PredictResult> {
    this.manager.checkModelName(request.modelName)
    const lease = this.manager.acquire(request.version)
    try {
      const signatureName = request.signatureName || DEFAULT_SIGNATURE_NAME
      if (!lease.signatures[signatureName]) {
        throw new ServingError('NOT_FOUND', `Serving signature name: "${signatureName}" not found in signature def`)
      }
      checkImages(request)
      const logits = await this.batcher.submit(lease.version, request.images, request.count)
      return {modelName: this.manager.modelName, version: lease.version, logits}
    } finally {
      lease.release()
    }
  }

  metadata(modelName: string, version?: VersionChoice): ModelMetadata {
    this.manager.checkModelName(modelName)
    return this.manager.metadata(version)
  }

  status(modelName: string, version?: VersionChoice): VersionStatus[] {
    this.manager.checkModelName(modelName)
    return this.manager.status(version)
  }

  versionLabels(modelName: string): Record<string, number> {
    this.manager.checkModelName(modelName)
    return this.manager.versionLabels()
  }

  isReady(): boolean {
    return !this.draining && this.manager.servedVersion !== undefined
  }

  /** A graceful shutdown began: not ready any more (requests are still answered). */
  beginDraining(): void {
    this.draining = true
  }
}

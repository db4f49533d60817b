import {BackendName, selectBackend} from '../../backend.js'
import {errorMessage} from '../../core/errors.js'
import {importOnnxRuntime} from '../../export/engines/onnxruntime.js'
import {ServingError} from '../api.js'
import {ModelRunner, VerifiedVersion, payloadFor} from './model-runner.js'
import {InferencePool, InferencePoolOptions} from './pool.js'

/** What the server needs of its inference: the worker pool, or the serving thread itself. */
export type Inference = Pick<InferencePool, 'start' | 'load' | 'unload' | 'run' | 'close' | 'numTensors' | 'size' | 'restarts'>

/**
 * Inference on the serving thread itself (`--workers 0`): no worker threads and no message
 * passing. ONNX Runtime's intra-op threads run outside the JavaScript thread, but its `run` is
 * synchronous on the calling thread, so a forward pass holds the event loop while it lasts.
 * There is no worker to die and restart: a failing pass answers its batch with an error.
 */
export class InProcessInference implements Inference {
  private readonly runner: ModelRunner
  private readonly loaded = new Set<number>()
  private closing = false
  /** Loads, unloads and passes run one at a time in arrival order, as in a worker. */
  private queue: Promise<unknown> = Promise.resolve()
  readonly restarts = 0
  readonly size = 0

  constructor(private readonly options: Omit<InferencePoolOptions, 'workers' | 'log'>) {
    this.runner = new ModelRunner(options.warmBatchSize, options.engineOptions)
  }

  async start(): Promise<BackendName | undefined> {
    if (this.options.engine === 'onnxruntime') {
      await importOnnxRuntime()
      return undefined
    }
    return selectBackend(this.options.backend)
  }

  get numTensors(): number {
    return this.runner.numTensors
  }

  async load(version: VerifiedVersion): Promise<void> {
    const payload = payloadFor(this.options.engine, version)
    await this.inOrder(() => this.runner.load(payload))
    this.loaded.add(version.version)
  }

  unload(version: number): void {
    this.loaded.delete(version)
    void this.inOrder(() => this.runner.unload(version)).catch(() => {})
  }

  async run(version: number, images: Float32Array, count: number): Promise<Float32Array> {
    if (this.closing) throw new ServingError('UNAVAILABLE', 'the server is shutting down', 1)
    if (!this.loaded.has(version)) throw new ServingError('NOT_FOUND', `version ${version} is no longer loaded`)
    try {
      return await this.inOrder(() => this.runner.run(version, images, count))
    } catch (error) {
      throw new ServingError('INTERNAL', `inference failed: ${errorMessage(error).split('\n')[0]}`)
    }
  }

  async close(): Promise<void> {
    this.closing = true
    await this.inOrder(() => this.runner.close())
  }

  private inOrder<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation)
    this.queue = result.catch(() => {})
    return result
  }
}

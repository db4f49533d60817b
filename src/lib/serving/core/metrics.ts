import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'

import {EngineSelection} from '../../export/engines/engine.js'

/** Route labels: a fixed set, so odd paths cannot blow up the metrics' cardinality. */
export type RouteLabel = 'flask' | 'predict' | 'model_status' | 'model_metadata' | 'healthz' | 'metrics' | 'unknown' | (string & {})

const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

/** Live values read when /metrics is scraped. */
export interface GaugeSources {
  queueDepth(): number
  numTensors(): number
}

/**
 * The server's Prometheus metrics (own registry, plus Node's process metrics such as
 * `process_resident_memory_bytes`): requests by route and status, latency, batch sizes, queue
 * depth, the loaded version, tensors held by the inference workers, worker restarts.
 */
export class ServingMetrics {
  readonly registry = new Registry()
  private sources: GaugeSources = {queueDepth: () => 0, numTensors: () => 0}

  private readonly requests = new Counter({
    name: 'mnist_serving_requests_total',
    help: 'HTTP requests answered, by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  })

  private readonly latency = new Histogram({
    name: 'mnist_serving_request_duration_seconds',
    help: 'Time from request to answer, by route',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [this.registry],
  })

  private readonly batchImages = new Histogram({
    name: 'mnist_serving_batch_size',
    help: 'Images per forward pass',
    buckets: BATCH_SIZE_BUCKETS,
    registers: [this.registry],
  })

  private readonly batchRequests = new Histogram({
    name: 'mnist_serving_batch_requests',
    help: 'Requests merged into one forward pass',
    buckets: BATCH_SIZE_BUCKETS,
    registers: [this.registry],
  })

  private readonly modelVersion = new Gauge({
    name: 'mnist_serving_model_version',
    help: 'The model version new requests are answered with',
    labelNames: ['model'] as const,
    registers: [this.registry],
  })

  private readonly engineInfo = new Gauge({
    name: 'mnist_serving_engine_info',
    help: 'The engine that runs every version (1): engine, why it was chosen, the tfjs backend, worker threads, ONNX Runtime intra-op threads',
    labelNames: ['engine', 'reason', 'backend', 'workers', 'intra_op_threads'] as const,
    registers: [this.registry],
  })

  private readonly workerRestarts = new Counter({
    name: 'mnist_serving_worker_restarts_total',
    help: 'Inference workers restarted after dying',
    registers: [this.registry],
  })

  constructor() {
    this.sampledGauge('mnist_serving_queue_depth', 'Requests waiting to be batched', () => this.sources.queueDepth())
    this.sampledGauge('mnist_serving_num_tensors', 'tf.memory().numTensors summed over the inference workers', () => this.sources.numTensors())
    collectDefaultMetrics({register: this.registry})
  }

  /** A gauge read from `sample` each time /metrics is scraped. */
  private sampledGauge(name: string, help: string, sample: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(sample())
      },
    })
  }

  watch(sources: GaugeSources): void {
    this.sources = sources
  }

  observeRequest(route: RouteLabel, status: number, seconds: number): void {
    this.requests.inc({route, status: String(status)})
    this.latency.observe({route}, seconds)
  }

  observeBatch(images: number, requests: number): void {
    this.batchImages.observe(images)
    this.batchRequests.observe(requests)
  }

  setServedVersion(modelName: string, version: number): void {
    this.modelVersion.set({model: modelName}, version)
  }

  /** Says which engine runs the versions and why, as an info-style gauge (value 1). */
  setEngine(engine: EngineSelection & {backend?: string; workers: number; onnxThreads: number}): void {
    this.engineInfo.reset()
    this.engineInfo.set(
      {
        engine: engine.engine,
        reason: engine.reason,
        backend: engine.backend ?? 'none',
        workers: String(engine.workers),
        intra_op_threads: engine.engine === 'onnxruntime' ? String(engine.onnxThreads) : 'none',
      },
      1,
    )
  }

  countWorkerRestart(): void {
    this.workerRestarts.inc()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }
}

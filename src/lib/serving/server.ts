import {Server, createServer} from 'node:http'
import {AddressInfo} from 'node:net'

import {BackendName} from '../backend.js'
import {UserError, errorMessage} from '../core/errors.js'
import {Batcher} from './core/batcher.js'
import {InferencePool, StartInferenceWorker} from './inference/pool.js'
import {InProcessInference, Inference} from './inference/in-process.js'
import {selectServingEngine} from './core/engine-selection.js'
import {EngineSelection} from '../export/engines/engine.js'
import {ServingMetrics} from './core/metrics.js'
import {ModelManager, checkModelDir} from './core/model-manager.js'
import {createRestListener} from './rest/app.js'
import {DEFAULT_ONNX_THREADS, ServeOptions, checkServeOptions, defaultWorkers, parseByteSize} from './options.js'
import {BatchingServingCore} from './core/serving-core.js'
import {DRAIN_TIMEOUT_MS, FrontendStarter, ServingFrontend} from './core/frontend.js'
import {ServingCore, ServingLog} from './api.js'
import {SignatureDef} from '../export/format.js'

const MS_PER_SECOND = 1000

export interface RunningServer {
  /** http://host:port */
  url: string
  port: number
  modelName: string
  /** The version served when start-up finished. */
  version: number
  signatures: Record<string, SignatureDef>
  /** Inference worker threads (0: inference runs on the serving thread). */
  workers: number
  /** The engine every version runs on, and why. */
  engine: EngineSelection
  /** ONNX Runtime's intra-op threads per session (onnxruntime engine). */
  onnxThreads: number
  /** The TF.js backend the tfjs engine runs on (undefined for onnxruntime). */
  backend: BackendName | undefined
  frontends: ServingFrontend[]
  core: ServingCore
  metrics: ServingMetrics
  pool: Inference
  /** Stops accepting, lets in-flight requests finish (up to DRAIN_TIMEOUT_MS), stops the workers. */
  shutdown(): Promise<void>
}

/** Stand-ins a test passes for the parts of the server it must control; `serve` passes none. */
export interface ServerSeams {
  /** How inference workers are started (default: worker threads). */
  startWorker?: StartInferenceWorker
}

/**
 * Starts `serve`: inference workers, the model manager (first version loaded and warmed before
 * anything listens), the batcher, the one ServingCore, the REST app and any extra front ends.
 */
export async function startServer(options: ServeOptions, log: ServingLog, frontendStarters: FrontendStarter[] = [], seams: ServerSeams = {}): Promise<RunningServer> {
  checkServeOptions(options)
  checkModelDir(options.modelDir)
  const metrics = new ServingMetrics()
  const engine = await selectServingEngine(options.modelDir, options.engine ?? 'auto', options.version)
  const workers = options.workers ?? defaultWorkers(engine.engine)
  const onnxThreads = options.onnxThreads ?? DEFAULT_ONNX_THREADS
  const inferenceOptions = {
    engine: engine.engine,
    engineOptions: {onnxThreads},
    backend: options.backend,
    warmBatchSize: options.maxBatchSize,
  }
  const pool: Inference =
    workers === 0
      ? new InProcessInference(inferenceOptions)
      : new InferencePool({...inferenceOptions, workers, log, startWorker: seams.startWorker}, () => metrics.countWorkerRestart())
  const manager = new ModelManager(
    {
      modelDir: options.modelDir,
      modelName: options.modelName,
      pinnedVersion: options.version,
      pollIntervalMs: options.pollSeconds * MS_PER_SECOND,
      log,
      onServedVersion: (version) => metrics.setServedVersion(options.modelName, version),
    },
    pool,
  )
  let backend: BackendName | undefined
  try {
    backend = await pool.start()
    await manager.start()
  } catch (error) {
    await pool.close()
    throw error
  }
  const batcher = new Batcher(
    {
      maxBatchSize: options.maxBatchSize,
      batchTimeoutMs: options.batchTimeoutMs,
      maxQueue: options.maxQueue,
      maxConcurrentBatches: Math.max(1, workers),
      mergeRequests: options.batching,
    },
    (version, images, count) => pool.run(version, images, count),
    (batch) => metrics.observeBatch(batch.images, batch.requests),
  )
  metrics.watch({queueDepth: () => batcher.queuedRequests, numTensors: () => pool.numTensors})
  metrics.setEngine({...engine, backend, workers, onnxThreads})
  const core = new BatchingServingCore(manager, batcher)

  let draining = false
  const listener = createRestListener({
    core,
    modelName: options.modelName,
    metrics,
    bodyLimitBytes: parseByteSize(options.bodyLimit),
    bodyLimitText: options.bodyLimit,
    log,
    isDraining: () => draining,
    drawingPage: options.ui ? {modelDir: options.modelDir, engine: () => (engine.engine === 'onnxruntime' ? `ONNX Runtime, ${onnxThreads} intra-op threads` : `TensorFlow.js, ${backend} backend`)} : undefined,
  })
  const server = createServer(listener)
  // Once draining, a connection that finished its request is closed instead of kept alive.
  server.on('request', (_request, response) => response.on('finish', () => draining && setImmediate(() => server.closeIdleConnections())))
  let port: number
  const frontends: ServingFrontend[] = []
  try {
    port = await listen(server, options.host, options.port)
    for (const start of frontendStarters) frontends.push(await start({core, metrics, log, modelName: options.modelName}))
  } catch (error) {
    manager.stop()
    server.close()
    await Promise.all(frontends.map((frontend) => frontend.shutdown()))
    await pool.close()
    throw error
  }

  let shuttingDown: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      draining = true
      manager.stop()
      const drainTimer = setTimeout(() => {
        log.warn(`in-flight requests still running after ${DRAIN_TIMEOUT_MS} ms; closing their connections`)
        server.closeAllConnections()
      }, DRAIN_TIMEOUT_MS)
      await Promise.all([closeHttp(server), ...frontends.map((frontend) => frontend.shutdown())])
      await batcher.whenIdle()
      clearTimeout(drainTimer)
      await pool.close()
    })()
    return shuttingDown
  }

  const metadata = core.metadata(options.modelName)
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    modelName: options.modelName,
    version: metadata.version,
    signatures: metadata.signatures,
    workers,
    engine,
    onnxThreads,
    backend,
    frontends,
    core,
    metrics,
    pool,
    shutdown,
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the port is in use' : error.code === 'EACCES' ? 'permission denied' : errorMessage(error)
      reject(new UserError(`cannot listen on ${host}:${port}: ${why}`))
    })
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
  })
}

/** Resolves when every connection has ended; idle keep-alive connections are closed at once. */
function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeIdleConnections()
  })
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

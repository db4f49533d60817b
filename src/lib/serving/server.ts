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
import {DEFAULT_ONNX_THREADS, ServeOptions, checkServeOptions, defaultWorkers, parseByteSize, versionPolicyOf} from './options.js'
import {readModelConfigFile} from './core/model-config.js'
import {BatchingServingCore} from './core/serving-core.js'
import {V2_PLATFORM} from './core/v2-inference.js'
import {TRITON_PLATFORM} from '../export/triton.js'
import {FrontendStarter, ServingFrontend} from './core/frontend.js'
import {HttpDrain} from './shutdown.js'
import {ServingCore, ServingLog, VersionPolicy} from './api.js'
import {SignatureDef} from '../export/format.js'

const MS_PER_SECOND = 1000

export interface RunningServer {
  /** http://host:port */
  url: string
  port: number
  modelName: string
  /** Where the versions are read from (--model-dir, or the model config's base_path). */
  modelDir: string
  /** The version unversioned requests got when start-up finished (the highest AVAILABLE). */
  version: number
  /** Every version AVAILABLE when start-up finished, highest first. */
  versions: number[]
  versionPolicy: VersionPolicy
  labels: Record<string, number>
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
  /**
   * The graceful shutdown: not ready at once, answers for --drain-grace-seconds more, stops
   * listening, answers every accepted connection, lets batches and gRPC calls finish (cutting
   * what is left after --drain-timeout-seconds), stops the workers.
   */
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
  const model = options.modelConfigFile ? readModelConfigFile(options.modelConfigFile) : undefined
  const modelName = model?.name ?? options.modelName
  const modelDir = model?.basePath ?? options.modelDir
  checkModelDir(modelDir)
  const metrics = new ServingMetrics()
  const policy = model?.policy ?? versionPolicyOf(options)
  const engine = await selectServingEngine(modelDir, options.engine ?? 'auto', policy)
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
      modelDir,
      modelName,
      policy,
      labels: model?.labels ?? options.labels,
      configFile: options.modelConfigFile,
      pollIntervalMs: options.pollSeconds * MS_PER_SECOND,
      log,
      onChange: (snapshot) => metrics.setVersions(modelName, snapshot),
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
  const core = new BatchingServingCore(manager, batcher, engine.engine === 'onnxruntime' ? TRITON_PLATFORM : V2_PLATFORM)

  const listener = createRestListener({
    core,
    modelName,
    metrics,
    bodyLimitBytes: parseByteSize(options.bodyLimit),
    bodyLimitText: options.bodyLimit,
    log,
    drawingPage: options.ui ? {modelDir, engine: () => (engine.engine === 'onnxruntime' ? `ONNX Runtime, ${onnxThreads} intra-op thread${onnxThreads === 1 ? '' : 's'}` : `TensorFlow.js, ${backend} backend`)} : undefined,
  })
  const server = createServer()
  const httpDrain = new HttpDrain(server, listener)
  let port: number
  const frontends: ServingFrontend[] = []
  try {
    port = await listen(server, options.host, options.port)
    for (const start of frontendStarters) frontends.push(await start({core, metrics, log}))
  } catch (error) {
    manager.stop()
    server.close()
    await Promise.all(frontends.map((frontend) => frontend.shutdown(0)))
    await pool.close()
    throw error
  }

  let shuttingDown: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      // Not ready from now on; answers close their connections; the listener stays open for the grace.
      core.beginDraining()
      httpDrain.beginDraining()
      manager.stop()
      if (options.drainGraceSeconds > 0) await sleep(options.drainGraceSeconds * MS_PER_SECOND)
      const drainTimeoutMs = options.drainTimeoutSeconds * MS_PER_SECOND
      const drainTimer = setTimeout(() => {
        log.warn(`requests still under way ${options.drainTimeoutSeconds} s after the listener closed (--drain-timeout-seconds); closing their connections`)
        httpDrain.closeAll()
      }, drainTimeoutMs)
      await Promise.all([httpDrain.stopListening(), ...frontends.map((frontend) => frontend.shutdown(drainTimeoutMs))])
      await batcher.whenIdle()
      clearTimeout(drainTimer)
      await pool.close()
    })()
    return shuttingDown
  }

  const metadata = core.metadata(modelName)
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    modelName,
    modelDir,
    version: metadata.version,
    versions: manager.availableVersions(),
    versionPolicy: manager.versionPolicy,
    labels: manager.versionLabels(),
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

import {BackendChoice, BackendName} from '../../backend.js'
import {UserError, errorMessage} from '../../core/errors.js'
import {EngineName, EngineOptions} from '../../export/engines/engine.js'
import {VerifiedVersion, VersionPayload, payloadFor} from './model-runner.js'
import {PendingLogits, ServingError, ServingLog} from '../api.js'
import {InferenceWorkerData, WorkerMessage, WorkerReply, WorkerRequest, WorkerStartup} from './messages.js'
import {startModuleWorker} from '../../core/worker-bootstrap.js'

export interface InferencePoolOptions {
  /** Worker threads, each holding every loaded version. */
  workers: number
  /** The engine every worker runs versions on. */
  engine: EngineName
  engineOptions: EngineOptions
  /** The tfjs engine's backend: each worker selects it itself (the main thread runs no model). */
  backend: BackendChoice
  /** The largest batch; each worker warms a new version with one this size. */
  warmBatchSize: number
  log: ServingLog
  /** Starts one inference worker; default: a worker thread running ./worker.ts (tests pass a fake). */
  startWorker?: StartInferenceWorker
}

/** What the pool needs of an inference worker: node:worker_threads' Worker, or a stand-in. */
export interface InferenceWorker {
  postMessage(message: WorkerRequest): void
  terminate(): Promise<number>
  on(event: 'message', listener: (message: WorkerMessage) => void): this
  on(event: 'error', listener: (error: Error) => void): this
  on(event: 'exit', listener: (code: number) => void): this
}

export type StartInferenceWorker = (workerData: InferenceWorkerData) => InferenceWorker

/** A batch whose worker died is run again on another; one that kills two workers fails. */
const MAX_BATCH_ATTEMPTS = 2
const FIRST_RESTART_DELAY_MS = 50
const MAX_RESTART_DELAY_MS = 5000

const WORKER_MODULE = new URL('./worker.js', import.meta.url)

/** The real inference worker: a thread running ./worker.ts. */
export const startInferenceWorker: StartInferenceWorker = (workerData) => startModuleWorker(WORKER_MODULE, {workerData})

interface Job extends PendingLogits {
  attempts: number
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never
type OkReply = Extract<WorkerReply, {ok: true}>

interface Pending {
  resolve: (reply: OkReply) => void
  reject: (error: Error) => void
}

interface WorkerSlot {
  index: number
  worker: InferenceWorker
  /** Its backend is up. */
  ready: boolean
  /** Versions this worker has loaded and warmed. */
  loaded: Set<number>
  /** The batch it is running, if any. */
  job?: Job
  pending: Map<number, Pending>
  numTensors: number
  exited: boolean
  exitReason?: string
}

/**
 * Inference worker threads, each holding the model: forward passes run off the main thread (which
 * keeps answering HTTP), one batch per idle worker. A worker that dies is logged and restarted,
 * and the batch it was running is run again elsewhere, so its callers still get their answers.
 */
export class InferencePool {
  private readonly slots: WorkerSlot[] = []
  private readonly models = new Map<number, VersionPayload>()
  private readonly jobs: Job[] = []
  private readonly restartTimers = new Set<NodeJS.Timeout>()
  private nextRequestId = 1
  private consecutiveCrashes = 0
  private closing = false
  /** Settles once, when the first workers are all up or one of them cannot start. */
  private startup: {resolve: (backend: BackendName | undefined) => void; reject: (error: Error) => void} | undefined
  private readonly started: Promise<BackendName | undefined>
  /** Workers restarted after dying, since start. */
  restarts = 0

  constructor(
    private readonly options: InferencePoolOptions,
    private readonly onWorkerRestart: () => void = () => {},
  ) {
    this.started = new Promise((resolve, reject) => (this.startup = {resolve, reject}))
    // Not an unhandled rejection if it fails before start() is awaited.
    this.started.catch(() => {})
    for (let index = 0; index < options.workers; index++) this.slots.push(this.spawn(index))
  }

  /**
   * Resolves once every worker is up, with the TF.js backend the workers chose (tfjs engine;
   * undefined for onnxruntime); a UserError saying why when one cannot start (say, --backend
   * tensorflow where it is not installed).
   */
  start(): Promise<BackendName | undefined> {
    return this.started
  }

  /** Worker threads (the banner and /metrics report them). */
  get size(): number {
    return this.options.workers
  }

  /** Tensors held across the workers, as each last reported. */
  get numTensors(): number {
    return this.slots.reduce((sum, slot) => sum + (slot.exited ? 0 : slot.numTensors), 0)
  }

  /** Loads and warms a version in every worker; rejects (and unloads it everywhere) if any fails. */
  async load(version: VerifiedVersion): Promise<void> {
    const model = payloadFor(this.options.engine, version)
    this.models.set(model.version, model)
    const live = this.slots.filter((slot) => !slot.exited)
    try {
      await Promise.all(live.map((slot) => this.loadInto(slot, model)))
    } catch (error) {
      this.unload(model.version)
      throw error
    }
  }

  /** Drops a version from every worker, after the batches already sent to them. */
  unload(version: number): void {
    this.models.delete(version)
    for (const slot of this.slots) {
      if (slot.exited || !slot.loaded.has(version)) continue
      slot.loaded.delete(version)
      this.request(slot, {type: 'unload', version}).catch(() => {})
    }
  }

  /** [count, 10] logits from whichever worker is free first. */
  run(version: number, images: Float32Array, count: number): Promise<Float32Array> {
    if (this.closing) return Promise.reject(new ServingError('UNAVAILABLE', 'the server is shutting down', 1))
    return new Promise((resolve, reject) => {
      this.jobs.push({version, images, count, attempts: 0, resolve, reject})
      this.pump()
    })
  }

  async close(): Promise<void> {
    this.closing = true
    for (const timer of this.restartTimers) clearTimeout(timer)
    for (const job of this.jobs.splice(0)) job.reject(new ServingError('UNAVAILABLE', 'the server is shutting down', 1))
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()))
  }

  private spawn(index: number): WorkerSlot {
    const {engine, engineOptions, backend, warmBatchSize} = this.options
    const workerData: InferenceWorkerData = {engine, engineOptions, backend, warmBatchSize}
    const worker = (this.options.startWorker ?? startInferenceWorker)(workerData)
    const slot: WorkerSlot = {index, worker, ready: false, loaded: new Set(), pending: new Map(), numTensors: 0, exited: false}
    worker.on('message', (message: WorkerMessage) => (message.type === 'reply' ? this.onReply(slot, message) : this.onStartup(slot, message)))
    worker.on('error', (error) => {
      slot.exitReason = errorMessage(error).split('\n')[0]
    })
    worker.on('exit', (code) => this.onExit(slot, code))
    const served = [...this.models.values()]
    Promise.all(served.map((model) => this.loadInto(slot, model))).then(
      () => this.pump(),
      (error: unknown) => {
        if (slot.exited) return
        this.options.log.error(`inference worker ${index} could not load the served versions (${errorMessage(error)}); restarting it`)
        void worker.terminate()
      },
    )
    return slot
  }

  private async loadInto(slot: WorkerSlot, model: VersionPayload): Promise<void> {
    try {
      await this.request(slot, {type: 'load', payload: model})
    } catch (error) {
      const reason = slot.exited ? `inference worker ${slot.index} died while loading it (${slot.exitReason ?? 'exited'})` : errorMessage(error)
      throw new Error(reason)
    }
    if (!this.models.has(model.version)) {
      // Unloaded while this worker was loading it.
      this.request(slot, {type: 'unload', version: model.version}).catch(() => {})
      return
    }
    slot.loaded.add(model.version)
    this.pump()
  }

  private request(slot: WorkerSlot, message: WithoutId<WorkerRequest>): Promise<OkReply> {
    if (slot.exited) return Promise.reject(new Error(`inference worker ${slot.index} has exited`))
    const id = this.nextRequestId++
    return new Promise((resolve, reject) => {
      slot.pending.set(id, {resolve, reject})
      slot.worker.postMessage({...message, id})
    })
  }

  private onStartup(slot: WorkerSlot, message: WorkerStartup): void {
    if (message.type === 'failed') {
      slot.exitReason = message.error
      if (this.startup) this.startup.reject(new UserError(`inference worker ${slot.index} cannot start: ${message.error}`))
      else this.options.log.error(`inference worker ${slot.index} cannot start: ${message.error}`)
      this.startup = undefined
      void slot.worker.terminate()
      return
    }
    slot.ready = true
    if (this.startup && this.slots.every((candidate) => candidate.ready)) {
      this.startup.resolve(message.backend)
      this.startup = undefined
    }
  }

  private onReply(slot: WorkerSlot, reply: WorkerReply): void {
    slot.numTensors = reply.numTensors
    const pending = slot.pending.get(reply.id)
    if (!pending) return
    slot.pending.delete(reply.id)
    if (reply.ok) pending.resolve(reply)
    else pending.reject(new Error(reply.error))
  }

  /** Hands waiting batches to idle workers that hold their version. */
  private pump(): void {
    for (let i = 0; i < this.jobs.length; ) {
      const job = this.jobs[i]
      if (!this.models.has(job.version)) {
        this.jobs.splice(i, 1)
        job.reject(new ServingError('NOT_FOUND', `version ${job.version} is no longer loaded`))
        continue
      }
      const slot = this.slots.find((candidate) => !candidate.exited && !candidate.job && candidate.loaded.has(job.version))
      if (!slot) {
        i++
        continue
      }
      this.jobs.splice(i, 1)
      this.startJob(slot, job)
    }
  }

  private startJob(slot: WorkerSlot, job: Job): void {
    slot.job = job
    this.request(slot, {type: 'run', version: job.version, images: job.images, count: job.count}).then(
      (reply) => {
        slot.job = undefined
        this.consecutiveCrashes = 0
        job.resolve(reply.logits!)
        this.pump()
      },
      (error: Error) => {
        // A dead worker's batch is handled (retried) by onExit.
        if (slot.exited) return
        slot.job = undefined
        job.reject(new ServingError('INTERNAL', `inference failed: ${error.message}`))
        this.pump()
      },
    )
  }

  private onExit(slot: WorkerSlot, code: number): void {
    slot.exited = true
    const reason = slot.exitReason ?? `exit code ${code}`
    for (const pending of slot.pending.values()) pending.reject(new Error(`inference worker ${slot.index} exited (${reason})`))
    slot.pending.clear()
    const job = slot.job
    slot.job = undefined
    if (this.startup) {
      this.startup.reject(new UserError(`inference worker ${slot.index} exited while starting (${reason})`))
      this.startup = undefined
    }
    if (this.closing) {
      job?.reject(new ServingError('UNAVAILABLE', 'the server is shutting down', 1))
      return
    }
    this.restarts++
    this.consecutiveCrashes++
    let retry = ''
    if (job) {
      job.attempts++
      if (job.attempts < MAX_BATCH_ATTEMPTS) {
        this.jobs.unshift(job)
        retry = `; its batch of ${job.count} is run again on another worker`
      } else {
        job.reject(new ServingError('INTERNAL', `the batch was running on two inference workers that died (${reason})`))
        retry = `; its batch of ${job.count} failed twice and is answered with an error`
      }
    }
    const delay = Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (this.consecutiveCrashes - 1))
    this.options.log.error(`inference worker ${slot.index} died (${reason})${retry}; restarting it in ${delay} ms`)
    this.onWorkerRestart()
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer)
      if (!this.closing) this.slots[slot.index] = this.spawn(slot.index)
    }, delay)
    this.restartTimers.add(timer)
    this.pump()
  }
}

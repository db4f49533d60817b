import {EventEmitter} from 'node:events'

import {InferenceWorker, StartInferenceWorker} from '../../../src/lib/serving/inference/pool.js'
import {InferenceWorkerData, WorkerMessage, WorkerRequest} from '../../../src/lib/serving/inference/messages.js'
import {fakeLogits} from '../fake-logits.js'

/** How a fake worker answers a request: at once, never (until release/crash), with an error, or by dying. */
export type FakeOutcome = 'answer' | 'hold' | 'die' | {error: string}

/** What the workers started by a FakeWorkers factory do; each test changes what it needs. */
export interface FakeWorkerScript {
  /** Ready with this backend, failed with a reason, or exits before saying anything. */
  startup: (worker: FakeInferenceWorker) => {backend: 'wasm'} | {failed: string} | 'exit'
  onLoad: (worker: FakeInferenceWorker, request: Extract<WorkerRequest, {type: 'load'}>) => FakeOutcome
  onRun: (worker: FakeInferenceWorker, request: Extract<WorkerRequest, {type: 'run'}>) => FakeOutcome
}

/** The engine settings every pool in these tests passes its workers. */
export const TFJS_ENGINE = {engine: 'tfjs', engineOptions: {onnxThreads: 1}} as const

/** Tensors a fake worker reports per loaded version. */
export const FAKE_TENSORS_PER_VERSION = 5

/**
 * A stand-in for an inference worker thread with the same interface: it speaks the pool's
 * message protocol (startup, load, unload, run → fake logits), replies asynchronously as a
 * thread would, and dies on demand as a crashed thread would (an 'exit' with code 1).
 */
export class FakeInferenceWorker extends EventEmitter implements InferenceWorker {
  readonly requests: WorkerRequest[] = []
  readonly versions = new Set<number>()
  exited = false
  private held: Array<() => void> = []

  constructor(
    /** Which worker this is, in start order (a restarted worker is a new one). */
    readonly serial: number,
    readonly workerData: InferenceWorkerData,
    private readonly script: FakeWorkerScript,
  ) {
    super()
    queueMicrotask(() => {
      const startup = script.startup(this)
      if (startup === 'exit') this.crash()
      else if ('failed' in startup) this.send({type: 'failed', error: startup.failed})
      else this.send({type: 'ready', backend: startup.backend})
    })
  }

  postMessage(request: WorkerRequest): void {
    if (this.exited) return
    this.requests.push(request)
    const outcome = request.type === 'load' ? this.script.onLoad(this, request) : request.type === 'run' ? this.script.onRun(this, request) : 'answer'
    if (outcome === 'die') return this.crash()
    const answer = () => {
      if (this.exited) return
      if (typeof outcome === 'object') return this.reply(request.id, {ok: false, error: outcome.error})
      if (request.type === 'load') this.versions.add(request.payload.version)
      if (request.type === 'unload') this.versions.delete(request.version)
      const logits = request.type === 'run' ? fakeLogits(request.version, request.images, request.count) : undefined
      this.reply(request.id, {ok: true, logits})
    }
    if (outcome === 'hold') this.held.push(answer)
    else queueMicrotask(answer)
  }

  terminate(): Promise<number> {
    this.crash()
    return Promise.resolve(1)
  }

  /** Dies as a crashed thread does: from now on silent, then an 'error' if given one, and 'exit' with code 1. */
  crash(error?: Error): void {
    if (this.exited) return
    this.exited = true
    queueMicrotask(() => {
      if (error) this.emit('error', error)
      this.emit('exit', 1)
    })
  }

  /** Answers the requests held so far. */
  release(): void {
    for (const answer of this.held.splice(0)) answer()
  }

  /** Batches this worker was sent, as [version, count]. */
  get runs(): Array<[number, number]> {
    return this.requests.flatMap((request) => (request.type === 'run' ? [[request.version, request.count] as [number, number]] : []))
  }

  private reply(id: number, fields: {ok: true; logits?: Float32Array} | {ok: false; error: string}): void {
    this.send({type: 'reply', id, numTensors: this.versions.size * FAKE_TENSORS_PER_VERSION, ...fields})
  }

  private send(message: WorkerMessage): void {
    this.emit('message', message)
  }
}

/** A StartInferenceWorker for the pool that makes fake workers and keeps them for the test to inspect. */
export class FakeWorkers {
  readonly started: FakeInferenceWorker[] = []
  readonly script: FakeWorkerScript = {
    startup: () => ({backend: 'wasm'}),
    onLoad: () => 'answer',
    onRun: () => 'answer',
  }

  readonly start: StartInferenceWorker = (workerData) => {
    const worker = new FakeInferenceWorker(this.started.length, workerData, this.script)
    this.started.push(worker)
    return worker
  }

  /** The workers not dead, in start order. */
  get alive(): FakeInferenceWorker[] {
    return this.started.filter((worker) => !worker.exited)
  }
}

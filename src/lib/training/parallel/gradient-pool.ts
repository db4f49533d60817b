import {Worker} from 'node:worker_threads'

import {BackendName, WASM_THREADS_ENV} from '../../backend.js'
import {UserError, errorMessage} from '../../core/errors.js'
import {IMAGE_PIXELS} from '../../core/image.js'
import {startModuleWorker} from '../../core/worker-bootstrap.js'
import {Batch} from '../../data/batches.js'
import {WEIGHT_NAMES, WeightArrays} from '../../model/weights.js'
import {GradientReply, GradientRequest, GradientWorkerData, GradientWorkerMessage} from './messages.js'
import {batchSlices} from './workers.js'

const WORKER_MODULE = new URL('./gradient-worker.js', import.meta.url)

export interface GradientPoolOptions {
  workers: number
  /** The main thread's backend; every worker selects the same. */
  backend: BackendName
  hidden: number
  /**
   * Threads of each worker's wasm backend. 1 (the default): the workers are the parallelism.
   * The benchmark sets it to compare with the wasm backend's own thread pool.
   */
  wasmThreadsPerWorker?: number
}

/** A batch's gradients as the main thread applies them. */
export interface PooledGradients {
  /** d (mean loss over the whole batch) / d weight. */
  gradients: WeightArrays
  loss: number
  accuracy: number
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

interface Slot {
  index: number
  worker: Worker
  pending: Map<number, {resolve: (reply: GradientReply) => void; reject: (error: Error) => void}>
  numTensors: number
  exited?: string
}

/**
 * Data-parallel training steps: N worker threads, each with its own TF.js backend, compute the
 * gradients of contiguous slices of a batch at the same weights; the main thread sums them, weighted
 * by slice size, always in worker order, so a run is deterministic for a given seed and worker
 * count. The optimizer stays on the main thread (its state and checkpoints are those of a
 * single-threaded run).
 */
export class GradientWorkerPool {
  private readonly slots: Slot[] = []
  private nextId = 1
  private closed = false
  /** The wasm threads each worker ended up with (0 on other backends). */
  wasmThreadsPerWorker = 0
  /** CPU time each worker thread spent on gradients since start (ms, 10 ms resolution; 0 where the OS does not say). */
  readonly workerCpuMs: number[] = []

  private constructor(private readonly options: GradientPoolOptions) {}

  /** Starts the workers; a UserError saying why when one cannot start. */
  static async start(options: GradientPoolOptions): Promise<GradientWorkerPool> {
    const pool = new GradientWorkerPool(options)
    try {
      const ready = await Promise.all(Array.from({length: options.workers}, (_, index) => pool.spawn(index)))
      pool.wasmThreadsPerWorker = ready[0]
      return pool
    } catch (error) {
      await pool.close()
      throw error
    }
  }

  get size(): number {
    return this.options.workers
  }

  /** Tensors held across the workers, as each last reported. */
  get numTensors(): number {
    return this.slots.reduce((sum, slot) => sum + slot.numTensors, 0)
  }

  /** The gradients of the batch's mean loss at `weights`, its loss and its accuracy. */
  async gradients(weights: WeightArrays, batch: Batch): Promise<PooledGradients> {
    const slices = batchSlices(batch.size, this.size)
    const replies = await Promise.all(
      slices.map(({start, end}, index) =>
        this.request(this.slots[index], {
          type: 'gradients',
          weights,
          // Copies, so that only the slice (not the batch's whole buffer) is sent.
          images: batch.images.slice(start * IMAGE_PIXELS, end * IMAGE_PIXELS),
          labels: batch.labels.slice(start, end),
          count: end - start,
        }),
      ),
    )
    // The first worker's arrays become the sum. Always in worker order: float sums depend on their order.
    let summed: WeightArrays | undefined
    let loss = 0
    let accuracy = 0
    replies.forEach((reply, index) => {
      if (reply.type !== 'gradients') throw new Error(`gradient worker ${index} answered ${reply.type}`)
      this.workerCpuMs[index] = (this.workerCpuMs[index] ?? 0) + (reply.cpuMs ?? 0)
      const share = (slices[index].end - slices[index].start) / batch.size
      for (const name of WEIGHT_NAMES) {
        const part = reply.gradients[name]
        if (summed === undefined) {
          for (let i = 0; i < part.length; i++) part[i] *= share
        } else {
          const total = summed[name]
          for (let i = 0; i < total.length; i++) total[i] += share * part[i]
        }
      }
      summed ??= reply.gradients
      loss += share * reply.loss
      accuracy += share * reply.accuracy
    })
    return {gradients: summed!, loss, accuracy}
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()))
  }

  private spawn(index: number): Promise<number> {
    const workerData: GradientWorkerData = {backend: this.options.backend, hidden: this.options.hidden}
    const env = {...process.env, [WASM_THREADS_ENV]: String(this.options.wasmThreadsPerWorker ?? 1)}
    const worker = startModuleWorker(WORKER_MODULE, {workerData, env})
    const slot: Slot = {index, worker, pending: new Map(), numTensors: 0}
    this.slots[index] = slot
    return new Promise((resolve, reject) => {
      let started = false
      worker.on('message', (message: GradientWorkerMessage) => {
        if (message.type === 'ready') {
          started = true
          resolve(message.wasmThreads)
        } else if (message.type === 'failed') {
          reject(new UserError(`gradient worker ${index} cannot start: ${message.error}`))
        } else {
          this.onReply(slot, message)
        }
      })
      worker.on('error', (error) => {
        slot.exited = errorMessage(error).split('\n')[0]
      })
      worker.on('exit', (code) => {
        const reason = slot.exited ?? `exit code ${code}`
        slot.exited = reason
        if (!started) reject(new UserError(`gradient worker ${index} exited while starting (${reason})`))
        for (const pending of slot.pending.values()) pending.reject(new Error(`gradient worker ${index} exited (${reason})`))
        slot.pending.clear()
      })
    })
  }

  private request(slot: Slot, message: WithoutId<GradientRequest>): Promise<GradientReply> {
    if (this.closed) return Promise.reject(new Error('the gradient workers are closed'))
    if (slot.exited !== undefined) return Promise.reject(new Error(`gradient worker ${slot.index} has exited (${slot.exited})`))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      slot.pending.set(id, {resolve, reject})
      const {images, labels} = message
      slot.worker.postMessage({...message, id}, [images.buffer as ArrayBuffer, labels.buffer as ArrayBuffer])
    })
  }

  private onReply(slot: Slot, reply: GradientReply): void {
    if (reply.type !== 'error') slot.numTensors = reply.numTensors
    const pending = slot.pending.get(reply.id)
    if (!pending) return
    slot.pending.delete(reply.id)
    if (reply.type === 'error') pending.reject(new Error(`gradient worker ${slot.index}: ${reply.error}`))
    else pending.resolve(reply)
  }
}

import {IMAGE_PIXELS, NUM_CLASSES} from '../../core/image.js'
import {PendingLogits, ServingError} from '../api.js'

/** One forward pass over `count` images of model version `version`; resolves to [count, 10] logits. */
export type RunBatch = (version: number, images: Float32Array, count: number) => Promise<Float32Array>

export interface BatcherOptions {
  /** Most images merged into one forward pass. */
  maxBatchSize: number
  /** How long the oldest waiting request may wait for others to join its batch. */
  batchTimeoutMs: number
  /** Requests allowed to wait; beyond that the batcher answers UNAVAILABLE. */
  maxQueue: number
  /** Forward passes allowed to run at once (one per inference worker). */
  maxConcurrentBatches: number
  /** False: every request is its own forward pass (`--no-batching`), still queued the same way. */
  mergeRequests: boolean
}

/** Seconds a client is told to wait when the queue is full. */
export const QUEUE_FULL_RETRY_SECONDS = 1

interface Task extends PendingLogits {
  enqueuedAt: number
}

/** What one dispatched batch held, for metrics. */
export interface BatchRecord {
  images: number
  requests: number
}

/**
 * TF Serving's BatchingSession: callers submit requests as if they ran alone; concurrent ones
 * (for the same model version) are merged into one forward pass of up to `maxBatchSize` images,
 * closed when full or when the oldest has waited `batchTimeoutMs`, and each caller gets back
 * exactly its own rows. While every forward-pass slot is busy, requests keep gathering, so
 * batches grow with the load; a request that finds every slot idle is not held back.
 */
export class Batcher {
  private readonly queue: Task[] = []
  private queuedImageCount = 0
  private running = 0
  private timer: NodeJS.Timeout | undefined
  private idleFlush: NodeJS.Immediate | undefined
  private idleWaiters: Array<() => void> = []

  constructor(
    private readonly options: BatcherOptions,
    private readonly runBatch: RunBatch,
    private readonly onBatch: (batch: BatchRecord) => void = () => {},
  ) {}

  get queuedRequests(): number {
    return this.queue.length
  }

  get runningBatches(): number {
    return this.running
  }

  submit(version: number, images: Float32Array, count: number): Promise<Float32Array> {
    if (count > this.options.maxBatchSize) {
      return Promise.reject(new ServingError('INVALID_ARGUMENT', `batch of ${count} images is over the limit of ${this.options.maxBatchSize} per request`))
    }
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new ServingError('UNAVAILABLE', `the request queue is full (${this.options.maxQueue} waiting); retry later`, QUEUE_FULL_RETRY_SECONDS),
      )
    }
    return new Promise((resolve, reject) => {
      this.queue.push({version, images, count, enqueuedAt: performance.now(), resolve, reject})
      this.queuedImageCount += count
      this.schedule()
    })
  }

  /** Resolves once nothing is queued or running (for a graceful shutdown). */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private schedule(): void {
    while (this.queue.length > 0 && this.running < this.options.maxConcurrentBatches) {
      const waitedMs = performance.now() - this.queue[0].enqueuedAt
      const ready = !this.options.mergeRequests || this.queuedImageCount >= this.options.maxBatchSize || waitedMs >= this.options.batchTimeoutMs
      if (ready) {
        this.dispatch(this.takeBatch())
      } else if (this.running === 0) {
        this.armIdleFlush()
        return
      } else {
        this.armTimer(this.options.batchTimeoutMs - waitedMs)
        return
      }
    }
  }

  /**
   * With every worker idle there is no load to wait for: the batch leaves as soon as the requests
   * that arrived together (in this turn of the event loop) have joined it.
   */
  private armIdleFlush(): void {
    if (this.idleFlush) return
    this.idleFlush = setImmediate(() => {
      this.idleFlush = undefined
      if (this.queue.length > 0 && this.running === 0) this.dispatch(this.takeBatch())
      this.schedule()
    })
  }

  private armTimer(delayMs: number): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.schedule()
    }, Math.max(0, delayMs))
  }

  /** The oldest task and, when merging, later tasks of the same version that still fit. */
  private takeBatch(): Task[] {
    const first = this.queue.shift()!
    const batch = [first]
    let images = first.count
    if (this.options.mergeRequests) {
      for (let i = 0; i < this.queue.length && images < this.options.maxBatchSize; ) {
        const task = this.queue[i]
        if (task.version === first.version && images + task.count <= this.options.maxBatchSize) {
          batch.push(task)
          images += task.count
          this.queue.splice(i, 1)
        } else {
          i++
        }
      }
    }
    this.queuedImageCount -= images
    if (this.queue.length === 0 && this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    return batch
  }

  private dispatch(batch: Task[]): void {
    const count = batch.reduce((sum, task) => sum + task.count, 0)
    const images = batch.length === 1 ? batch[0].images : concatImages(batch, count)
    this.running++
    this.onBatch({images: count, requests: batch.length})
    // A Promise constructor also turns a synchronous throw from runBatch into a rejection.
    new Promise<Float32Array>((resolve) => resolve(this.runBatch(batch[0].version, images, count))).then(
      (logits) => {
        this.finishBatch()
        let offset = 0
        for (const task of batch) {
          task.resolve(logits.subarray(offset * NUM_CLASSES, (offset + task.count) * NUM_CLASSES))
          offset += task.count
        }
      },
      (error: unknown) => {
        this.finishBatch()
        for (const task of batch) task.reject(error)
      },
    )
  }

  /** Frees the batch's slot and sends the next batch on its way before this one's callers are answered. */
  private finishBatch(): void {
    this.running--
    this.schedule()
    if (this.queue.length === 0 && this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }
}

function concatImages(batch: Task[], count: number): Float32Array {
  const images = new Float32Array(count * IMAGE_PIXELS)
  let offset = 0
  for (const task of batch) {
    images.set(task.images.subarray(0, task.count * IMAGE_PIXELS), offset)
    offset += task.count * IMAGE_PIXELS
  }
  return images
}

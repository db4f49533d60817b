import {IMAGE_PIXELS} from '../core/image.js'
import {ImageSet, rangeOf} from './mnist.js'
import {epochOrder} from '../core/random.js'

export interface Batch {
  /** [size, 28, 28] row-major, float32 in [0, 1]. */
  images: Float32Array
  labels: Uint8Array
  size: number
}

/** Copies the examples named by `indices` into one batch (a shuffled batch cannot be a view). */
export function gatherBatch(set: ImageSet, indices: ArrayLike<number>): Batch {
  const size = indices.length
  const images = new Float32Array(size * IMAGE_PIXELS)
  const labels = new Uint8Array(size)
  for (let row = 0; row < size; row++) {
    const example = indices[row]
    images.set(set.images.subarray(example * IMAGE_PIXELS, (example + 1) * IMAGE_PIXELS), row * IMAGE_PIXELS)
    labels[row] = set.labels[example]
  }
  return {images, labels, size}
}

/** Consecutive batches of a set in stored order, as views: for evaluation. */
export function* sequentialBatches(set: ImageSet, batchSize: number): Generator<Batch> {
  for (let start = 0; start < set.count; start += batchSize) {
    const part = rangeOf(set, start, start + batchSize)
    yield {images: part.images, labels: part.labels, size: part.count}
  }
}

/** Where a training run is in its data: enough, with the seed, to rebuild the exact order. */
export interface DataPosition {
  epoch: number
  /** Index of the next batch within the epoch. */
  batchInEpoch: number
}

/**
 * Shuffled training batches. Each epoch's order depends only on (seed, epoch), so a run resumed
 * at a DataPosition sees exactly the batches an uninterrupted run would. The last partial batch
 * of an epoch is dropped, so every step sees `batchSize` examples.
 */
export class ShuffledBatches {
  private order: Uint32Array
  private orderEpoch: number

  constructor(
    private readonly set: ImageSet,
    readonly batchSize: number,
    private readonly seed: number,
    private position: DataPosition = {epoch: 0, batchInEpoch: 0},
  ) {
    if (batchSize > set.count) throw new RangeError(`batch size ${batchSize} exceeds the ${set.count} training images`)
    this.orderEpoch = position.epoch
    this.order = epochOrder(set.count, seed, position.epoch)
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.set.count / this.batchSize)
  }

  get currentPosition(): DataPosition {
    return {...this.position}
  }

  next(): Batch {
    if (this.position.batchInEpoch >= this.batchesPerEpoch) {
      this.position = {epoch: this.position.epoch + 1, batchInEpoch: 0}
    }
    if (this.orderEpoch !== this.position.epoch) {
      this.order = epochOrder(this.set.count, this.seed, this.position.epoch)
      this.orderEpoch = this.position.epoch
    }
    const start = this.position.batchInEpoch * this.batchSize
    this.position = {...this.position, batchInEpoch: this.position.batchInEpoch + 1}
    return gatherBatch(this.set, this.order.subarray(start, start + this.batchSize))
  }
}

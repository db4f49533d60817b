import * as tf from '@tensorflow/tfjs'
import {availableParallelism} from 'node:os'

/**
 * Measured with `npm run bench:train` on a 2-core machine: two workers, each computing the
 * gradients of half of every batch, make a step 1.8× faster than the main thread alone, and faster
 * than the wasm backend's own thread pool (1.7×), which parallelises the matmuls but not the LSTM's
 * gate arithmetic. Beyond four, a batch of 128 splits into slices too small to keep a core busy.
 */
const MAX_DEFAULT_WORKERS = 4

/** Backends whose kernels run on the calling thread: a worker per core is what uses the cores. */
const SINGLE_THREAD_BACKENDS: readonly string[] = ['wasm', 'cpu']

/**
 * One gradient worker per core, at most MAX_DEFAULT_WORKERS; one (the main thread) when the active
 * backend is the native TensorFlow one, whose kernels use every core already.
 */
export function defaultTrainingWorkers(cores: number = availableParallelism(), backend: string | undefined = tf.engine().backendName): number {
  if (backend !== undefined && !SINGLE_THREAD_BACKENDS.includes(backend)) return 1
  return Math.max(1, Math.min(cores, MAX_DEFAULT_WORKERS))
}

/** Contiguous slices [start, end) of a batch, one per worker, whose sizes differ by at most one. */
export function batchSlices(size: number, workers: number): Array<{start: number; end: number}> {
  const slices: Array<{start: number; end: number}> = []
  for (let index = 0; index < workers; index++) {
    slices.push({start: Math.floor((index * size) / workers), end: Math.floor(((index + 1) * size) / workers)})
  }
  return slices
}

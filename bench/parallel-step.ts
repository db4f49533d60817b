/**
 * The training step as `train` runs it, on the main thread alone or with gradient workers, for
 * bench/train.ts's data-parallel table. Every variant runs in one process, interleaved in rounds,
 * so that the machine's load hits them alike; the figure is the median step.
 */
import * as tf from '@tensorflow/tfjs'

import {selectBackend} from '../src/lib/backend.js'
import {IMAGE_PIXELS, NUM_CLASSES} from '../src/lib/core/image.js'
import {SeededRandom} from '../src/lib/core/random.js'
import {Batch} from '../src/lib/data/batches.js'
import {ClassifierWeights, DEFAULT_HIDDEN_UNITS, WEIGHT_NAMES, createClassifierWeights, disposeClassifierWeights, weightArraysOf, weightShapes} from '../src/lib/model/weights.js'
import {clipArraysByGlobalNorm, clipByGlobalNorm} from '../src/lib/training/clipping.js'
import {DEFAULT_CLIP_NORM, DEFAULT_LEARNING_RATE} from '../src/lib/training/config.js'
import {batchGradients} from '../src/lib/training/gradients.js'
import {GradientWorkerPool} from '../src/lib/training/parallel/gradient-pool.js'
import {threadCpuMs} from '../src/lib/training/parallel/thread-cpu.js'
import {median} from './helpers.js'

export interface ParallelVariant {
  label: string
  /** Gradient worker threads (0: the main thread computes the gradients, as --workers 1). */
  workers: number
  /** wasm threads of each worker (or of the main thread). */
  wasmThreads: number
}

export interface ParallelResult extends ParallelVariant {
  msPerStep: number
  steps: number
  /** Single-thread step time over this one's, measured in the same rounds. */
  speedUp: number
  /**
   * From CPU time rather than wall time: the main thread's CPU per step plus the busiest worker's,
   * what a step would take on idle cores (messages' wake-up latency aside). Undefined for the
   * wasm thread pool, whose pool threads' time is not seen, and where the OS does not report it.
   */
  idleMsPerStep?: number
  idleSpeedUp?: number
  /** The parts of idleMsPerStep: main-thread CPU per step, and each worker's. */
  mainCpuMsPerStep?: number
  workerCpuMsPerStep?: number[]
}

/** Uniform random pixels and labels: the step's cost does not depend on the values. */
function randomBatch(size: number, seed: number): Batch {
  const random = new SeededRandom(seed)
  const images = new Float32Array(size * IMAGE_PIXELS)
  for (let i = 0; i < images.length; i++) images[i] = random.next()
  const labels = new Uint8Array(size)
  for (let i = 0; i < size; i++) labels[i] = random.nextInt(NUM_CLASSES)
  return {images, labels, size}
}

interface Stepper {
  step(): Promise<void>
  /** CPU ms each worker thread has spent so far (empty without workers). */
  workerCpuMs(): number[]
  dispose(): Promise<void>
}

function applyWith(optimizer: tf.Optimizer, weights: ClassifierWeights, gradients: tf.Tensor[]): void {
  const {clipped} = clipByGlobalNorm(gradients, DEFAULT_CLIP_NORM)
  optimizer.applyGradients(WEIGHT_NAMES.map((name, index) => ({name: weights[name].name, tensor: clipped[index]})))
}

async function stepper(variant: ParallelVariant, batch: Batch, weightsSeed: number): Promise<Stepper> {
  const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, weightsSeed)
  const optimizer = tf.train.adam(DEFAULT_LEARNING_RATE)
  if (variant.workers === 0) {
    return {
      step: async () => {
        tf.tidy(() => {
          const {loss, gradients} = batchGradients(weights, batch.images, batch.labels, batch.size)
          applyWith(optimizer, weights, gradients)
          loss.dataSync()
        })
      },
      workerCpuMs: () => [],
      dispose: async () => {
        optimizer.dispose()
        disposeClassifierWeights(weights)
      },
    }
  }
  const pool = await GradientWorkerPool.start({workers: variant.workers, backend: 'wasm', hidden: DEFAULT_HIDDEN_UNITS, wasmThreadsPerWorker: variant.wasmThreads})
  const shapes = weightShapes(DEFAULT_HIDDEN_UNITS)
  return {
    step: async () => {
      // As the trainer does: clipped in JavaScript, then Adam's kernels.
      const {gradients} = await pool.gradients(weightArraysOf(weights), batch)
      clipArraysByGlobalNorm(WEIGHT_NAMES.map((name) => gradients[name]), DEFAULT_CLIP_NORM)
      tf.tidy(() => optimizer.applyGradients(WEIGHT_NAMES.map((name) => ({name: weights[name].name, tensor: tf.tensor(gradients[name], shapes[name])}))))
    },
    workerCpuMs: () => [...pool.workerCpuMs],
    dispose: async () => {
      await pool.close()
      optimizer.dispose()
      disposeClassifierWeights(weights)
    },
  }
}

/** Runs in a process whose own wasm backend is single-threaded. */
export async function measureParallelSteps(variants: ParallelVariant[], options: {batchSize: number; rounds: number; stepsPerRound: number; seed: number}): Promise<ParallelResult[]> {
  await selectBackend('wasm')
  const batch = randomBatch(options.batchSize, options.seed)
  const steppers: Stepper[] = []
  for (const variant of variants) steppers.push(await stepper(variant, batch, options.seed))
  const times: number[][] = variants.map(() => [])
  const mainCpu = variants.map(() => 0)
  const workerCpu: number[][] = variants.map(() => [])
  let cpuReported = true
  // Warm-up: first-call costs (kernel setup, optimizer slots, JIT) stay out of the figures.
  for (const s of steppers) await s.step()
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, s] of steppers.entries()) {
      const cpuBefore = threadCpuMs()
      const workersBefore = s.workerCpuMs()
      for (let i = 0; i < options.stepsPerRound; i++) {
        const start = performance.now()
        await s.step()
        times[index].push(performance.now() - start)
      }
      const cpuAfter = threadCpuMs()
      if (cpuBefore === undefined || cpuAfter === undefined) cpuReported = false
      else mainCpu[index] += cpuAfter - cpuBefore
      s.workerCpuMs().forEach((ms, worker) => (workerCpu[index][worker] = (workerCpu[index][worker] ?? 0) + ms - (workersBefore[worker] ?? 0)))
    }
  }
  for (const s of steppers) await s.dispose()
  const medians = times.map(median)
  const baselineIndex = Math.max(0, variants.findIndex((variant) => variant.workers === 0))
  const idle = variants.map((variant, index) => {
    if (!cpuReported || (variant.workers > 0 && variant.wasmThreads > 1)) return undefined
    return (mainCpu[index] + Math.max(0, ...workerCpu[index])) / times[index].length
  })
  const idleBaseline = idle[baselineIndex]
  return variants.map((variant, index) => ({
    ...variant,
    msPerStep: medians[index],
    steps: times[index].length,
    speedUp: medians[baselineIndex] / medians[index],
    idleMsPerStep: idle[index],
    idleSpeedUp: idle[index] && idleBaseline ? idleBaseline / idle[index] : undefined,
    mainCpuMsPerStep: cpuReported ? mainCpu[index] / times[index].length : undefined,
    workerCpuMsPerStep: workerCpu[index].map((ms) => ms / times[index].length),
  }))
}

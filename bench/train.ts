/**
 * Training-step time of the stock tf.layers.lstm classifier and of ours, on wasm and cpu; then
 * ours as `train` runs it on both cores: data-parallel gradient workers against the wasm
 * backend's own thread pool.
 *
 *   npm run bench:train [-- --threads 1,2] [--workers 2] [--rounds 3] [--no-cpu] [--only models|parallel] [--json]
 *
 * One training step: batch of 128 random images, 128 units, 28 time steps, softmax cross-entropy,
 * Adam. Every model trains in the same process, in rounds that interleave the models so that
 * machine load hits them alike; the figure is the median step. Each wasm thread setting runs in a
 * child process (the wasm build is chosen once per process); cpu runs in the first.
 *
 * The data-parallel table runs in one process: the main thread alone (`train --workers 1`), N
 * gradient workers of one wasm thread each (`--workers N`), and one worker whose wasm backend has
 * N threads (the wasm thread pool, which parallelises the matmuls but not the LSTM's gate
 * arithmetic); each row's speed-up is over the first, from the same rounds.
 */
import * as tf from '@tensorflow/tfjs'
import {parseArgs} from 'node:util'

import {WASM_THREADS_ENV, selectBackend, setWasmTransposedMatMulFix, wasmThreadsInUse} from '../src/lib/backend.js'
import {classifierLogits} from '../src/lib/model/classifier.js'
import {kerasClassifierFrom} from '../src/lib/model/keras.js'
import {createClassifierWeights, DEFAULT_HIDDEN_UNITS, disposeClassifierWeights, WEIGHT_NAMES} from '../src/lib/model/weights.js'
import {defaultThreadSettings, fixed, formatTable, median, parseThreadList, randomBatch, runChild, timeCalls, WEIGHTS_SEED} from './helpers.js'
import {ParallelResult, ParallelVariant, measureParallelSteps} from './parallel-step.js'

const BATCH_SIZE = 128
const LEARNING_RATE = 0.001
const DATA_SEED = 7
/** Timed steps per round and variant in the data-parallel table. */
const PARALLEL_STEPS_PER_ROUND = 10

type ModelKind = 'stock-no-fix' | 'stock' | 'ours'

function modelLabel(backend: 'wasm' | 'cpu', model: ModelKind): string {
  if (model === 'ours') return 'fast LSTM (ours)'
  if (backend === 'cpu') return 'stock tf.layers.lstm'
  return model === 'stock' ? 'stock tf.layers.lstm, matmul fix' : 'stock tf.layers.lstm, stock wasm matmul'
}

/** Timed steps per round: the stock models are slow, and the cpu ones very slow. */
const STEPS_PER_ROUND: Record<'wasm' | 'cpu', Partial<Record<ModelKind, number>>> = {
  wasm: {'stock-no-fix': 2, stock: 4, ours: 10},
  cpu: {stock: 1, ours: 3},
}

interface Result {
  backend: 'wasm' | 'cpu'
  threads: number
  model: ModelKind
  msPerStep: number
  steps: number
  /** Tensors left over per step (should be 0). */
  tensorDrift: number
}

interface Trainer {
  step(): void
  dispose(): void
}

function trainer(kind: ModelKind, images: tf.Tensor3D, labels: tf.Tensor2D): Trainer {
  const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, WEIGHTS_SEED)
  const optimizer = tf.train.adam(LEARNING_RATE)
  const run = (logits: () => tf.Tensor2D, variables: tf.Variable[]) => () => {
    const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, logits()) as tf.Scalar, true, variables)!
    cost.dataSync()
    cost.dispose()
  }
  if (kind === 'ours') {
    return {
      step: run(() => classifierLogits(weights, images), WEIGHT_NAMES.map((name) => weights[name])),
      dispose: () => {
        optimizer.dispose()
        disposeClassifierWeights(weights)
      },
    }
  }
  const model = kerasClassifierFrom(weights)
  disposeClassifierWeights(weights)
  const step = run(() => model.apply(images) as tf.Tensor2D, model.trainableWeights.map((w) => w.read() as tf.Variable))
  return {
    step: kind === 'stock-no-fix' ? withoutMatMulFix(step) : step,
    dispose: () => {
      optimizer.dispose()
      model.dispose()
    },
  }
}

function withoutMatMulFix(step: () => void): () => void {
  return () => {
    setWasmTransposedMatMulFix(false)
    try {
      step()
    } finally {
      setWasmTransposedMatMulFix(true)
    }
  }
}

async function measureBackend(backend: 'wasm' | 'cpu', rounds: number): Promise<Result[]> {
  await selectBackend(backend)
  const threads = backend === 'wasm' ? wasmThreadsInUse() : 1
  const {images, labels} = randomBatch(BATCH_SIZE, DATA_SEED)
  const kinds = Object.keys(STEPS_PER_ROUND[backend]) as ModelKind[]
  const trainers = kinds.map((kind) => trainer(kind, images, labels))
  const times: number[][] = kinds.map(() => [])
  const drift: number[] = kinds.map(() => 0)
  // Warm-up: first-call costs (kernel setup, optimizer slots, JIT) stay out of the figures.
  trainers.forEach((t) => t.step())
  for (let round = 0; round < rounds; round++) {
    kinds.forEach((kind, index) => {
      const before = tf.memory().numTensors
      const steps = STEPS_PER_ROUND[backend][kind]!
      times[index].push(...timeCalls(() => trainers[index].step(), steps))
      drift[index] += (tf.memory().numTensors - before) / steps
    })
  }
  trainers.forEach((t) => t.dispose())
  images.dispose()
  labels.dispose()
  return kinds.map((model, index) => ({
    backend,
    threads,
    model,
    msPerStep: median(times[index]),
    steps: times[index].length,
    tensorDrift: drift[index] / rounds,
  }))
}

function report(results: Result[]): string {
  const rows = results.map((result) => {
    const baseline = results.find((r) => r.backend === result.backend && r.threads === result.threads && r.model === (result.backend === 'wasm' ? 'stock-no-fix' : 'stock'))
    const withFix = results.find((r) => r.backend === result.backend && r.threads === result.threads && r.model === 'stock')
    return [
      result.backend,
      result.backend === 'wasm' ? String(result.threads) : '-',
      modelLabel(result.backend, result.model),
      fixed(result.msPerStep),
      String(result.steps),
      baseline ? `${fixed(baseline.msPerStep / result.msPerStep)}×` : '',
      withFix ? `${fixed(withFix.msPerStep / result.msPerStep)}×` : '',
    ]
  })
  const header = ['backend', 'threads', 'model', 'ms/step (median)', 'steps', 'vs stock', 'vs stock + fix']
  return [
    `Training step: batch ${BATCH_SIZE}, ${DEFAULT_HIDDEN_UNITS} units, 28 steps, Adam. "vs stock": speed-up over stock tf.layers.lstm with the stock kernels.`,
    formatTable(header, rows),
  ].join('\n')
}

function parallelVariants(workerCounts: number[]): ParallelVariant[] {
  const variants: ParallelVariant[] = [{label: 'main thread alone (--workers 1)', workers: 0, wasmThreads: 1}]
  for (const count of workerCounts.filter((n) => n > 1)) {
    variants.push({label: `${count} gradient workers, 1 wasm thread each (--workers ${count})`, workers: count, wasmThreads: 1})
    variants.push({label: `1 worker, wasm thread pool of ${count}`, workers: 1, wasmThreads: count})
  }
  return variants
}

function parallelReport(results: ParallelResult[]): string {
  const rows = results.map((result) => [
    result.label,
    fixed(result.msPerStep),
    `${fixed(result.speedUp, 2)}×`,
    result.idleMsPerStep === undefined ? '–' : fixed(result.idleMsPerStep),
    result.idleSpeedUp === undefined ? '–' : `${fixed(result.idleSpeedUp, 2)}×`,
    String(result.steps),
  ])
  return [
    `Fast LSTM on both cores: batch ${BATCH_SIZE}, ${DEFAULT_HIDDEN_UNITS} units, Adam with clipping, wasm; all rows in one process, interleaved.`,
    formatTable(['how the step runs', 'wall ms/step (median)', 'vs main thread', 'CPU-path ms/step', 'vs main thread', 'steps'], rows),
    'CPU-path: main-thread CPU per step + the busiest worker\'s, i.e. the step on otherwise idle cores (Linux thread CPU time, 10 ms ticks summed over each round).',
  ].join('\n')
}

const {values} = parseArgs({
  options: {
    child: {type: 'boolean', default: false},
    threads: {type: 'string'},
    workers: {type: 'string'},
    rounds: {type: 'string', default: '3'},
    only: {type: 'string'},
    'no-cpu': {type: 'boolean', default: false},
    json: {type: 'boolean', default: false},
  },
})
const rounds = Number(values.rounds)

if (values.child) {
  const results = await measureBackend('wasm', rounds)
  if (!values['no-cpu']) results.push(...(await measureBackend('cpu', rounds)))
  console.log(JSON.stringify(results))
} else {
  const output: {models?: Result[]; parallel?: ParallelResult[]} = {}
  if (values.only !== 'parallel') {
    const settings = values.threads ? parseThreadList(values.threads) : defaultThreadSettings()
    const results: Result[] = []
    settings.forEach((threads, index) => {
      const cpu = index === 0 && !values['no-cpu']
      results.push(...runChild<Result[]>(import.meta.url, threads, ['--rounds', String(rounds), ...(cpu ? [] : ['--no-cpu'])]))
    })
    output.models = results
    if (!values.json) console.log(report(results))
  }
  if (values.only !== 'models') {
    // This process's own wasm backend (the main-thread row) is single-threaded, as train's is here.
    process.env[WASM_THREADS_ENV] = '1'
    const workerCounts = values.workers ? parseThreadList(values.workers) : defaultThreadSettings()
    output.parallel = await measureParallelSteps(parallelVariants(workerCounts), {batchSize: BATCH_SIZE, rounds, stepsPerRound: PARALLEL_STEPS_PER_ROUND, seed: DATA_SEED})
    if (!values.json) console.log(`${output.models ? '\n' : ''}${parallelReport(output.parallel)}`)
  }
  if (values.json) console.log(JSON.stringify(output, null, 2))
}

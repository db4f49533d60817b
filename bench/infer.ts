/**
 * Inference throughput and latency of the classifier: ours and the stock tf.layers.lstm model on
 * TF.js, and the exported model.onnx in ONNX Runtime (onnxruntime-node), from the same weights.
 *
 *   npm run bench:infer [-- --threads 1,2] [--backends wasm,cpu,onnxruntime] [--json]
 *
 * Images/s at batch 1, 32 and 256 (random images, logits read back), and the median latency of
 * one image. Models alternate in rounds within one process; each wasm thread setting runs in a
 * child process (the wasm build is chosen once per process), and ONNX Runtime runs in its own
 * child, once per intra-op thread count in --threads. "vs wasm" compares ONNX Runtime with our
 * fast LSTM on wasm at the same batch size and thread count, from the same run.
 */
import * as tf from '@tensorflow/tfjs'
import {parseArgs} from 'node:util'

import {selectBackend, wasmThreadsInUse} from '../src/lib/backend.js'
import {classifierLogits} from '../src/lib/model/classifier.js'
import {kerasClassifierFrom} from '../src/lib/model/keras.js'
import {createClassifierWeights, DEFAULT_HIDDEN_UNITS, disposeClassifierWeights, hiddenUnitsOf, weightArraysOf} from '../src/lib/model/weights.js'
import {OnnxRuntimeModel} from '../src/lib/export/engines/onnxruntime.js'
import {encodeOnnxClassifier} from '../src/lib/export/onnx/classifier-model.js'
import {defaultThreadSettings, fixed, formatTable, median, parseThreadList, randomBatch, runChild, timeFor, WEIGHTS_SEED} from './helpers.js'

const BATCH_SIZES = [1, 32, 256]
const ROUNDS = 3
/** Per model, batch size and round: at least this many calls and this long. */
const MIN_CALLS = 3
const MIN_MS = 400

type Backend = 'wasm' | 'cpu' | 'onnxruntime'
type ModelKind = 'ours' | 'stock' | 'onnx'

const MODEL_LABELS: Record<ModelKind, string> = {ours: 'fast LSTM (ours)', stock: 'stock tf.layers.lstm', onnx: 'model.onnx: LSTM node + Gemm'}

interface Result {
  backend: Backend
  threads: number
  model: ModelKind
  batch: number
  /** Median milliseconds per call (one batch). */
  msPerBatch: number
  imagesPerSecond: number
}

/** Calls fn (which finishes its work before resolving) until minCalls calls and minMs have passed. */
async function timeForAsync(fn: () => Promise<unknown>, minCalls: number, minMs: number): Promise<number[]> {
  const times: number[] = []
  const start = performance.now()
  while (times.length < minCalls || performance.now() - start < minMs) {
    const started = performance.now()
    await fn()
    times.push(performance.now() - started)
  }
  return times
}

/** model.onnx of the same weights in ONNX Runtime, one session per intra-op thread count. */
async function measureOnnxRuntime(threadSettings: number[]): Promise<Result[]> {
  await selectBackend('cpu')
  const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, WEIGHTS_SEED)
  const onnxModel = encodeOnnxClassifier({weights: weightArraysOf(weights), hidden: hiddenUnitsOf(weights), producerVersion: 'bench'})
  disposeClassifierWeights(weights)
  const results: Result[] = []
  for (const threads of threadSettings) {
    const model = await OnnxRuntimeModel.create(onnxModel, threads)
    for (const batch of BATCH_SIZES) {
      const {images, labels} = randomBatch(batch, batch)
      const pixels = images.dataSync() as Float32Array
      images.dispose()
      labels.dispose()
      const run = () => model.run(pixels, batch)
      await run()
      const times: number[] = []
      for (let round = 0; round < ROUNDS; round++) times.push(...(await timeForAsync(run, MIN_CALLS, MIN_MS)))
      const msPerBatch = median(times)
      results.push({backend: 'onnxruntime', threads, model: 'onnx', batch, msPerBatch, imagesPerSecond: (1000 * batch) / msPerBatch})
    }
    await model.release()
  }
  return results
}

async function measure(backend: Exclude<Backend, 'onnxruntime'>): Promise<Result[]> {
  await selectBackend(backend)
  const threads = backend === 'wasm' ? wasmThreadsInUse() : 1
  const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, WEIGHTS_SEED)
  const stock = kerasClassifierFrom(weights)
  const models: Partial<Record<ModelKind, (images: tf.Tensor3D) => tf.Tensor>> = {
    ours: (images) => classifierLogits(weights, images),
    stock: (images) => stock.predict(images) as tf.Tensor,
  }
  const results: Result[] = []
  for (const batch of BATCH_SIZES) {
    const {images, labels} = randomBatch(batch, batch)
    labels.dispose()
    const times: Partial<Record<ModelKind, number[]>> = {ours: [], stock: []}
    const kinds = Object.keys(models) as ModelKind[]
    const run = (kind: ModelKind) => () => tf.tidy(() => models[kind]!(images).dataSync())
    kinds.forEach((kind) => run(kind)())
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of kinds) times[kind]!.push(...timeFor(run(kind), MIN_CALLS, backend === 'cpu' && kind === 'stock' ? MIN_MS / 4 : MIN_MS))
    }
    for (const kind of kinds) {
      const msPerBatch = median(times[kind]!)
      results.push({backend, threads, model: kind, batch, msPerBatch, imagesPerSecond: (1000 * batch) / msPerBatch})
    }
    images.dispose()
  }
  stock.dispose()
  disposeClassifierWeights(weights)
  return results
}

function report(results: Result[]): string {
  const rows = results.map((result) => {
    const stock = results.find((r) => r.backend === result.backend && r.threads === result.threads && r.batch === result.batch && r.model === 'stock')
    const wasm = results.find((r) => r.backend === 'wasm' && r.threads === result.threads && r.batch === result.batch && r.model === 'ours')
    return [
      result.backend,
      result.backend === 'cpu' ? '-' : String(result.threads),
      MODEL_LABELS[result.model],
      String(result.batch),
      fixed(result.msPerBatch, 3),
      fixed(result.imagesPerSecond, 0),
      stock && result.model === 'ours' ? `${fixed(stock.msPerBatch / result.msPerBatch)}×` : '',
      wasm && result.model === 'onnx' ? `${fixed(wasm.msPerBatch / result.msPerBatch)}×` : '',
    ]
  })
  const header = ['backend', 'threads', 'model', 'batch', 'ms/batch (median)', 'images/s', 'vs stock', 'vs wasm']
  return ['Inference (logits read back). Batch 1 ms/batch is the latency of one image.', formatTable(header, rows)].join('\n')
}

const {values} = parseArgs({
  options: {
    child: {type: 'boolean', default: false},
    threads: {type: 'string'},
    backends: {type: 'string', default: 'wasm,cpu,onnxruntime'},
    'onnx-threads': {type: 'string'},
    json: {type: 'boolean', default: false},
  },
})
const backends = values.backends.split(',').map((name) => name.trim()) as Backend[]

if (values.child) {
  const results: Result[] = []
  for (const backend of backends) {
    if (backend === 'onnxruntime') results.push(...(await measureOnnxRuntime(parseThreadList(values['onnx-threads'] ?? '1'))))
    else results.push(...(await measure(backend)))
  }
  console.log(JSON.stringify(results))
} else {
  const settings = values.threads ? parseThreadList(values.threads) : defaultThreadSettings()
  const results: Result[] = []
  settings.forEach((threads, index) => {
    // cpu does not depend on the wasm thread setting: measure it once.
    const wanted = backends.filter((backend) => backend === 'wasm' || (backend === 'cpu' && index === 0))
    if (wanted.length > 0) results.push(...runChild<Result[]>(import.meta.url, threads, ['--backends', wanted.join(',')]))
  })
  if (backends.includes('onnxruntime')) results.push(...runChild<Result[]>(import.meta.url, 1, ['--backends', 'onnxruntime', '--onnx-threads', settings.join(',')]))
  console.log(values.json ? JSON.stringify(results, null, 2) : report(results))
}

/**
 * Inference throughput and latency of the classifier: ours and the stock tf.layers.lstm model.
 *
 *   npm run bench:infer [-- --threads 1,2] [--backends wasm,cpu] [--json]
 *
 * Images/s at batch 1, 32 and 256 (random images, logits read back), and the median latency of
 * one image. Models alternate in rounds within one process; each wasm thread setting runs in a
 * child process (the wasm build is chosen once per process).
 */
import * as tf from '@tensorflow/tfjs'
import {parseArgs} from 'node:util'

import {selectBackend, wasmThreadsInUse} from '../src/lib/backend.js'
import {classifierLogits} from '../src/lib/model/classifier.js'
import {kerasClassifierFrom} from '../src/lib/model/keras.js'
import {createClassifierWeights, DEFAULT_HIDDEN_UNITS, disposeClassifierWeights} from '../src/lib/model/weights.js'
import {defaultThreadSettings, fixed, formatTable, median, parseThreadList, randomBatch, runChild, timeFor, WEIGHTS_SEED} from './helpers.js'

const BATCH_SIZES = [1, 32, 256]
const ROUNDS = 3
/** Per model, batch size and round: at least this many calls and this long. */
const MIN_CALLS = 3
const MIN_MS = 400

type Backend = 'wasm' | 'cpu'
type ModelKind = 'ours' | 'stock'

const MODEL_LABELS: Record<ModelKind, string> = {ours: 'fast LSTM (ours)', stock: 'stock tf.layers.lstm'}

interface Result {
  backend: Backend
  threads: number
  model: ModelKind
  batch: number
  /** Median milliseconds per call (one batch). */
  msPerBatch: number
  imagesPerSecond: number
}

async function measure(backend: Backend): Promise<Result[]> {
  await selectBackend(backend)
  const threads = backend === 'wasm' ? wasmThreadsInUse() : 1
  const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, WEIGHTS_SEED)
  const stock = kerasClassifierFrom(weights)
  const models: Record<ModelKind, (images: tf.Tensor3D) => tf.Tensor> = {
    ours: (images) => classifierLogits(weights, images),
    stock: (images) => stock.predict(images) as tf.Tensor,
  }
  const results: Result[] = []
  for (const batch of BATCH_SIZES) {
    const {images, labels} = randomBatch(batch, batch)
    labels.dispose()
    const times: Record<ModelKind, number[]> = {ours: [], stock: []}
    const kinds = Object.keys(models) as ModelKind[]
    const run = (kind: ModelKind) => () => tf.tidy(() => models[kind](images).dataSync())
    kinds.forEach((kind) => run(kind)())
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of kinds) times[kind].push(...timeFor(run(kind), MIN_CALLS, backend === 'cpu' && kind === 'stock' ? MIN_MS / 4 : MIN_MS))
    }
    for (const kind of kinds) {
      const msPerBatch = median(times[kind])
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
    return [
      result.backend,
      result.backend === 'wasm' ? String(result.threads) : '-',
      MODEL_LABELS[result.model],
      String(result.batch),
      fixed(result.msPerBatch, 2),
      fixed(result.imagesPerSecond, 0),
      stock && result.model === 'ours' ? `${fixed(stock.msPerBatch / result.msPerBatch)}×` : '',
    ]
  })
  const header = ['backend', 'threads', 'model', 'batch', 'ms/batch (median)', 'images/s', 'vs stock']
  return ['Inference (logits read back). Batch 1 ms/batch is the latency of one image.', formatTable(header, rows)].join('\n')
}

const {values} = parseArgs({
  options: {
    child: {type: 'boolean', default: false},
    threads: {type: 'string'},
    backends: {type: 'string', default: 'wasm,cpu'},
    json: {type: 'boolean', default: false},
  },
})
const backends = values.backends.split(',').map((name) => name.trim()) as Backend[]

if (values.child) {
  const results: Result[] = []
  for (const backend of backends) results.push(...(await measure(backend)))
  console.log(JSON.stringify(results))
} else {
  const settings = values.threads ? parseThreadList(values.threads) : defaultThreadSettings()
  const results: Result[] = []
  settings.forEach((threads, index) => {
    // cpu does not depend on the wasm thread setting: measure it once.
    const wanted = backends.filter((backend) => backend === 'wasm' || index === 0)
    if (wanted.length > 0) results.push(...runChild<Result[]>(import.meta.url, threads, ['--backends', wanted.join(',')]))
  })
  console.log(values.json ? JSON.stringify(results, null, 2) : report(results))
}

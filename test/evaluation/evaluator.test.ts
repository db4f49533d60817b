import * as tf from '@tensorflow/tfjs'
import {Chalk} from 'chalk'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {PNG} from 'pngjs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {ImageSet} from '../../src/lib/data/mnist.js'
import {LogitsFunction, evaluate, evaluateWeights} from '../../src/lib/evaluation/evaluator.js'
import {CELL_HEIGHT, CELL_WIDTH, errorGridSize, writeErrorGrid} from '../../src/lib/evaluation/errors-png.js'
import {formatConfusionMatrix} from '../../src/lib/evaluation/report.js'
import {createClassifierWeights, disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {makeTempDir} from '../helpers/cli.js'

/** Image i has label i % 10 and its first pixel encodes a "predicted" digit the fake model reads back. */
function labelledSet(count: number, predictedOf: (i: number) => number): ImageSet {
  const images = new Float32Array(count * 784)
  const labels = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    labels[i] = i % 10
    images[i * 784] = predictedOf(i) / 10
    images[i * 784 + 400] = 1
  }
  return {images, labels, count}
}

/** A fake model: logit 5 for the digit stored in the first pixel, 0 elsewhere. */
const readsFirstPixel: LogitsFunction = (images) =>
  tf.tidy(() => {
    const digit = tf.round(tf.mul(images.slice([0, 0, 0], [-1, 1, 1]).reshape([-1]), 10)).toInt()
    return tf.mul(tf.oneHot(digit, 10), 5).toFloat() as tf.Tensor2D
  })

describe('streaming evaluator', () => {
  const temp = makeTempDir('mnist-rnn-eval-')
  beforeAll(async () => {
    await selectBackend('wasm')
  })
  afterAll(() => temp.cleanup())

  it('scores every image, in batches of any size, with the exact accuracy, loss and confusion matrix', async () => {
    // Every third image is predicted as (label + 1) % 10.
    const set = labelledSet(95, (i) => (i % 3 === 0 ? ((i % 10) + 1) % 10 : i % 10))
    const wrong = Array.from({length: 95}, (_, i) => i).filter((i) => i % 3 === 0).length
    const batches: number[] = []
    const result = await evaluate(readsFirstPixel, set, {batchSize: 20, onProgress: (done) => batches.push(done)})
    expect(batches).toEqual([20, 40, 60, 80, 95])
    expect(result.images).toBe(95)
    expect(result.correct).toBe(95 - wrong)
    expect(result.accuracy).toBeCloseTo((95 - wrong) / 95, 12)
    // Logits (5 for one class, 0 for nine): loss is log(e^5 + 9) − 5 when right, log(e^5 + 9) when wrong.
    const logSum = Math.log(Math.exp(5) + 9)
    expect(result.meanLoss).toBeCloseTo(((95 - wrong) * (logSum - 5) + wrong * logSum) / 95, 5)
    expect(result.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(95)
    expect(result.confusionMatrix[0][1]).toBe(4) // images 0, 30, 60, 90
    expect(result.misclassified.map((error) => error.index)).toEqual(Array.from({length: wrong}, (_, k) => 3 * k))
    expect(result.misclassified[1]).toMatchObject({index: 3, label: 3, predicted: 4})

    const oneBatch = await evaluate(readsFirstPixel, set, {batchSize: 1000})
    expect(oneBatch.confusionMatrix).toEqual(result.confusionMatrix)
    expect(oneBatch.meanLoss).toBeCloseTo(result.meanLoss, 10)
  })

  it('keeps at most the asked number of misclassified images', async () => {
    const set = labelledSet(50, (i) => (i + 1) % 10)
    const result = await evaluate(readsFirstPixel, set, {batchSize: 7, keepErrors: 12})
    expect(result.correct).toBe(0)
    expect(result.misclassified).toHaveLength(12)
  })

  it('leaves no tensors behind when scoring real weights', async () => {
    const weights = createClassifierWeights(8, 3)
    const set = labelledSet(30, () => 0)
    await evaluateWeights(weights, set, {batchSize: 8})
    const before = tf.memory().numTensors
    const result = await evaluateWeights(weights, set, {batchSize: 8})
    expect(tf.memory().numTensors).toBe(before)
    expect(result.images).toBe(30)
    expect(Number.isFinite(result.meanLoss)).toBe(true)
    disposeClassifierWeights(weights)
  })

  it('draws misclassified digits into a PNG grid of 10 columns with coloured labels under each', async () => {
    const set = labelledSet(23, (i) => (i + 1) % 10)
    const result = await evaluate(readsFirstPixel, set, {batchSize: 10})
    const path = join(temp.dir, 'errors.png')
    expect(writeErrorGrid(path, result.misclassified)).toEqual({width: 10 * CELL_WIDTH, height: 3 * CELL_HEIGHT})
    const png = PNG.sync.read(readFileSync(path))
    expect([png.width, png.height]).toEqual([640, 3 * CELL_HEIGHT])
    const pixel = (x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3))
    // Image 0 has a white pixel at (row 14, col 8), drawn 2× from the cell's padding of 4.
    expect(pixel(4 + 8 * 2, 4 + 14 * 2)).toEqual([255, 255, 255])
    // The caption holds green (true label) and red (predicted label) ink.
    const caption = Array.from({length: CELL_WIDTH * (CELL_HEIGHT - 64)}, (_, k) => pixel(k % CELL_WIDTH, 64 + Math.floor(k / CELL_WIDTH)))
    expect(caption.some(([r, g]) => g > 200 && r < 100)).toBe(true)
    expect(caption.some(([r, g]) => r > 200 && g < 100)).toBe(true)
    expect(errorGridSize(100)).toMatchObject({width: 640, height: 10 * CELL_HEIGHT})
    expect(errorGridSize(4)).toMatchObject({width: 4 * CELL_WIDTH, height: CELL_HEIGHT})
  })

  it('colours the confusion matrix only when asked', () => {
    const matrix = [
      [5, 1],
      [0, 3],
    ]
    const plain = formatConfusionMatrix(matrix)
    expect(plain.join('\n')).not.toMatch(/\u001b\[/)
    expect(plain[1]).toBe('    0      5     1')
    const coloured = formatConfusionMatrix(matrix, new Chalk({level: 3}))
    expect(coloured[1]).toMatch(/\u001b\[48;2;0;\d+;0m\u001b\[37m {5}5/) // diagonal: a green background
    expect(coloured[1]).toMatch(/\u001b\[48;2;255;0;0m\u001b\[37m {5}1/) // the largest error: full red
    expect(coloured[1].replace(/\u001b\[[0-9;]*m/g, '')).toBe(plain[1])
  })
})

import * as tf from '@tensorflow/tfjs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {kerasClassifierFrom, LSTM_LAYER_NAME, OUTPUT_LAYER_NAME} from '../../src/lib/model/keras.js'
import {lazyGradientOp} from '../../src/lib/model/lazy-gradient.js'
import {defaultLstmImplementation, lstmLastHidden, opsLstmLastHidden} from '../../src/lib/model/lstm.js'
import {ClassifierWeights, classifierWeightsFromArrays, DEFAULT_HIDDEN_UNITS, disposeClassifierWeights, WEIGHT_NAMES, WeightArrays, WeightName, weightShapes} from '../../src/lib/model/weights.js'
import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../../src/lib/core/image.js'

/** Largest difference allowed, relative to the largest magnitude in the reference tensor. */
const RELATIVE_TOLERANCE = 1e-4
const BATCH_SIZES = [1, 7, 32]
const SEED = 42

/** max |actual − expected| / max |expected|: elementwise relative error is meaningless near zero. */
function relativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  expect(actual.shape).toEqual(expected.shape)
  return tf.tidy(() => {
    const difference = tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]
    const scale = tf.max(tf.abs(expected)).dataSync()[0]
    return difference / scale
  })
}

function randomImages(batch: number, seed: number): tf.Tensor3D {
  return tf.randomUniform([batch, IMAGE_ROWS, IMAGE_COLS], 0, 1, 'float32', seed) as tf.Tensor3D
}

function randomLabels(batch: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.randomUniform([batch], 0, NUM_CLASSES, 'int32', seed) as tf.Tensor1D, NUM_CLASSES) as tf.Tensor2D)
}

/**
 * Random weights of the real size, every bias nonzero so that the bias paths are exercised too.
 * (createClassifierWeights' orthogonal initialiser takes a minute on the cpu backend.)
 */
function testWeights(): ClassifierWeights {
  let state = SEED
  const uniform = (scale: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return (state / 2 ** 32 - 0.5) * 2 * scale
  }
  const shapes = weightShapes(DEFAULT_HIDDEN_UNITS)
  const arrays = {} as WeightArrays
  for (const name of WEIGHT_NAMES) {
    const shape = shapes[name]
    const scale = shape.length === 2 ? Math.sqrt(6 / (shape[0] + shape[1])) : 0.5
    arrays[name] = Float32Array.from({length: shape.reduce((a, b) => a * b, 1)}, () => uniform(scale))
  }
  return classifierWeightsFromArrays(arrays, DEFAULT_HIDDEN_UNITS)
}

function loss(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar
}

/** The stock model's variables by our weight names. */
function stockVariables(model: tf.LayersModel): Record<WeightName, tf.Variable> {
  const [kernel, recurrentKernel, bias] = model.getLayer(LSTM_LAYER_NAME).trainableWeights.map((w) => w.read() as tf.Variable)
  const [denseKernel, denseBias] = model.getLayer(OUTPUT_LAYER_NAME).trainableWeights.map((w) => w.read() as tf.Variable)
  return {kernel, recurrentKernel, bias, denseKernel, denseBias}
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`fast LSTM classifier on ${backend}`, () => {
    let weights: ClassifierWeights
    let stock: tf.LayersModel

    beforeAll(async () => {
      await selectBackend(backend)
      weights = testWeights()
      stock = kerasClassifierFrom(weights)
    })

    afterAll(() => {
      stock.dispose()
      disposeClassifierWeights(weights)
    })

    it('uses the hybrid implementation on this backend', () => {
      expect(defaultLstmImplementation()).toBe('hybrid')
    })

    it.each(BATCH_SIZES)('gives the stock tf.layers.lstm logits (batch %i)', (batch) => {
      tf.tidy(() => {
        const images = randomImages(batch, batch)
        const ours = classifierLogits(weights, images)
        const expected = stock.predict(images) as tf.Tensor2D
        expect(relativeError(ours, expected)).toBeLessThan(RELATIVE_TOLERANCE)
      })
    })

    it.each(BATCH_SIZES)('gives the stock gradients of all five weights (batch %i)', (batch) => {
      tf.tidy(() => {
        const images = randomImages(batch, 100 + batch)
        const labels = randomLabels(batch, 200 + batch)
        const ours = tf.variableGrads(() => loss(classifierLogits(weights, images), labels), WEIGHT_NAMES.map((name) => weights[name]))
        const stockWeights = stockVariables(stock)
        const expected = tf.variableGrads(
          () => loss(stock.apply(images) as tf.Tensor2D, labels),
          WEIGHT_NAMES.map((name) => stockWeights[name]),
        )
        expect(relativeError(ours.value, expected.value)).toBeLessThan(RELATIVE_TOLERANCE)
        for (const name of WEIGHT_NAMES) {
          const error = relativeError(ours.grads[weights[name].name], expected.grads[stockWeights[name].name])
          expect(error, `gradient of ${name}`).toBeLessThan(RELATIVE_TOLERANCE)
        }
      })
    })

    it('gives the gradient with respect to the images too, like the op-by-op LSTM', () => {
      tf.tidy(() => {
        const images = randomImages(5, 7)
        const projection = tf.randomNormal([DEFAULT_HIDDEN_UNITS, 1], 0, 1, 'float32', 8)
        const gradients = (implementation: typeof lstmLastHidden) =>
          tf.grads((x: tf.Tensor, k: tf.Tensor, u: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.matMul(implementation(x as tf.Tensor3D, k as tf.Tensor2D, u as tf.Tensor2D, b as tf.Tensor1D), projection)),
          )([images, weights.kernel, weights.recurrentKernel, weights.bias])
        const ours = gradients(lstmLastHidden)
        const expected = gradients(opsLstmLastHidden)
        ours.forEach((gradient, i) => expect(relativeError(gradient, expected[i]), `input ${i}`).toBeLessThan(RELATIVE_TOLERANCE))
      })
    })

    it('gives the same gradients again when it reuses its scratch arrays, and with two LSTM passes in one loss', () => {
      tf.tidy(() => {
        const first = randomImages(6, 11)
        const second = randomImages(6, 12)
        const projection = tf.randomNormal([DEFAULT_HIDDEN_UNITS, 1], 0, 1, 'float32', 13)
        const variables = [weights.kernel, weights.recurrentKernel, weights.bias]
        const gradients = (implementation: typeof lstmLastHidden) =>
          tf.variableGrads(() => {
            const a = implementation(first, weights.kernel, weights.recurrentKernel, weights.bias)
            const b = implementation(second, weights.kernel, weights.recurrentKernel, weights.bias)
            return tf.sum(tf.matMul(tf.mul(a, b), projection)) as tf.Scalar
          }, variables).grads
        const once = gradients(lstmLastHidden)
        const again = gradients(lstmLastHidden)
        const expected = gradients(opsLstmLastHidden)
        for (const variable of variables) {
          expect(again[variable.name].dataSync()).toEqual(once[variable.name].dataSync())
          expect(relativeError(once[variable.name], expected[variable.name]), variable.name).toBeLessThan(RELATIVE_TOLERANCE)
        }
      })
    })

    it('leaves no tensor behind after a forward and backward pass, nor after inference', () => {
      const images = randomImages(4, 3)
      const labels = randomLabels(4, 4)
      const before = tf.memory().numTensors
      tf.tidy(() => {
        const {value, grads} = tf.variableGrads(() => loss(classifierLogits(weights, images), labels))
        value.dataSync()
        Object.values(grads).forEach((g) => g.dataSync())
      })
      tf.tidy(() => classifierLogits(weights, images).dataSync())
      expect(tf.memory().numTensors).toBe(before)
      images.dispose()
      labels.dispose()
    })
  })
}

describe('lazy gradient op without the engine method (the tf.customGrad fallback)', () => {
  beforeAll(async () => {
    await selectBackend('cpu')
  })

  it('gives the same gradients as the engine path', () => {
    tf.tidy(() => {
      const a = tf.tensor1d([1, 2, 3])
      const b = tf.tensor1d([4, 5, 6])
      const product = (engine?: object) => (x: tf.Tensor, y: tf.Tensor) =>
        lazyGradientOp(
          {x, y},
          () => tf.mul(x, y),
          (dy) => ({x: () => tf.mul(dy, y), y: () => tf.mul(dy, x)}),
          engine,
        )
      const viaEngine = tf.grads(product())([a, b])
      const viaCustomGrad = tf.grads(product({}))([a, b])
      expect(viaEngine[0].arraySync()).toEqual([4, 5, 6])
      expect(viaEngine[1].arraySync()).toEqual([1, 2, 3])
      expect(viaCustomGrad[0].arraySync()).toEqual([4, 5, 6])
      expect(viaCustomGrad[1].arraySync()).toEqual([1, 2, 3])
    })
  })
})

import * as tf from '@tensorflow/tfjs'

import {IMAGE_COLS, NUM_CLASSES} from '../core/image.js'
import {SeededRandom} from '../core/random.js'

export const DEFAULT_HIDDEN_UNITS = 128
/** Keras and TensorFlow start the forget gate's bias at 1 so that early gradients flow. */
export const FORGET_BIAS_INIT = 1

/**
 * The classifier's trainable weights in the Keras layout, so that they map one to one onto
 * `tf.layers.lstm` + `tf.layers.dense` (and so onto an exported TF.js Layers model):
 *   kernel          [rows' width = 28, 4·units]
 *   recurrentKernel [units, 4·units]
 *   bias            [4·units]           (forget slice starts at 1)
 *   denseKernel     [units, 10]
 *   denseBias       [10]
 */
export interface ClassifierWeights {
  kernel: tf.Variable
  recurrentKernel: tf.Variable
  bias: tf.Variable
  denseKernel: tf.Variable
  denseBias: tf.Variable
}

export type WeightName = keyof ClassifierWeights
export const WEIGHT_NAMES: readonly WeightName[] = ['kernel', 'recurrentKernel', 'bias', 'denseKernel', 'denseBias']

/** Plain typed arrays of the weights, as checkpoints and exports store them. */
export type WeightArrays = Record<WeightName, Float32Array>

export function hiddenUnitsOf(weights: ClassifierWeights): number {
  return weights.recurrentKernel.shape[0]
}

export function weightShapes(hidden: number): Record<WeightName, number[]> {
  return {
    kernel: [IMAGE_COLS, 4 * hidden],
    recurrentKernel: [hidden, 4 * hidden],
    bias: [4 * hidden],
    denseKernel: [hidden, NUM_CLASSES],
    denseBias: [NUM_CLASSES],
  }
}

/** Fresh weights with Keras's default initialisers, reproducible from the seed. */
export function createClassifierWeights(hidden: number, seed: number): ClassifierWeights {
  const shapes = weightShapes(hidden)
  const initial = tf.tidy(() => {
    const bias = new Float32Array(4 * hidden)
    bias.fill(FORGET_BIAS_INIT, hidden, 2 * hidden)
    return {
      kernel: tf.initializers.glorotUniform({seed}).apply(shapes.kernel),
      recurrentKernel: tf.tensor2d(orthogonalRows(hidden, 4 * hidden, seed + 1), [hidden, 4 * hidden]),
      bias: tf.tensor1d(bias),
      denseKernel: tf.initializers.glorotUniform({seed: seed + 2}).apply(shapes.denseKernel),
      denseBias: tf.zeros(shapes.denseBias),
    }
  })
  const weights = variablesFrom(initial)
  for (const name of WEIGHT_NAMES) initial[name].dispose()
  return weights
}

/**
 * Keras's orthogonal initialiser for a [rows, cols] matrix with rows ≤ cols: orthonormal rows, from
 * the QR decomposition of a seeded normal matrix. TF.js's own version takes seconds for
 * [128, 512] and warns about it; modified Gram–Schmidt in float64 takes milliseconds.
 */
export function orthogonalRows(rows: number, cols: number, seed: number): Float32Array {
  const random = new SeededRandom(seed)
  const basis: Float64Array[] = []
  for (let row = 0; row < rows; row++) {
    const vector = new Float64Array(cols)
    for (let i = 0; i < cols; i++) vector[i] = standardNormal(random)
    for (const previous of basis) {
      let dot = 0
      for (let i = 0; i < cols; i++) dot += vector[i] * previous[i]
      for (let i = 0; i < cols; i++) vector[i] -= dot * previous[i]
    }
    let norm = 0
    for (let i = 0; i < cols; i++) norm += vector[i] * vector[i]
    norm = Math.sqrt(norm)
    for (let i = 0; i < cols; i++) vector[i] /= norm
    basis.push(vector)
  }
  const matrix = new Float32Array(rows * cols)
  basis.forEach((vector, row) => matrix.set(vector, row * cols))
  return matrix
}

function standardNormal(random: SeededRandom): number {
  const u = 1 - random.next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next())
}

// Unnamed: TF.js variable names are unique per process, so fixed names would forbid a second set
// of weights (two served versions, an export next to its checkpoint, a Keras copy).
function variablesFrom(tensors: Record<WeightName, tf.Tensor>): ClassifierWeights {
  return {
    kernel: tf.variable(tensors.kernel, true),
    recurrentKernel: tf.variable(tensors.recurrentKernel, true),
    bias: tf.variable(tensors.bias, true),
    denseKernel: tf.variable(tensors.denseKernel, true),
    denseBias: tf.variable(tensors.denseBias, true),
  }
}

/** Weights from stored arrays; the hidden size is read from the recurrent kernel's length. */
export function classifierWeightsFromArrays(arrays: WeightArrays, hidden: number): ClassifierWeights {
  const shapes = weightShapes(hidden)
  const tensors = {} as Record<WeightName, tf.Tensor>
  for (const name of WEIGHT_NAMES) {
    const expected = shapes[name].reduce((a, b) => a * b, 1)
    if (arrays[name].length !== expected) {
      throw new Error(`weight ${name} has ${arrays[name].length} values, expected ${expected} for ${hidden} hidden units`)
    }
    tensors[name] = tf.tensor(arrays[name], shapes[name])
  }
  const weights = variablesFrom(tensors)
  for (const name of WEIGHT_NAMES) tensors[name].dispose()
  return weights
}

export function weightArraysOf(weights: ClassifierWeights): WeightArrays {
  const arrays = {} as WeightArrays
  for (const name of WEIGHT_NAMES) arrays[name] = weights[name].dataSync() as Float32Array
  return arrays
}

export function disposeClassifierWeights(weights: ClassifierWeights): void {
  for (const name of WEIGHT_NAMES) weights[name].dispose()
}

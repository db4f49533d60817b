import {
  ClassifierWeights,
  classifierWeightsFromArrays,
  DEFAULT_HIDDEN_UNITS,
  WEIGHT_NAMES,
  WeightArrays,
  weightShapes,
} from '../src/lib/model/weights.js'

const SEED = 7

/**
 * Glorot-uniform weights of the default size from a fixed seed, zero biases. Not
 * createClassifierWeights: its orthogonal initialiser takes a minute on the cpu backend.
 */
export function benchWeights(): ClassifierWeights {
  let state = SEED
  const shapes = weightShapes(DEFAULT_HIDDEN_UNITS)
  const arrays = {} as WeightArrays
  for (const name of WEIGHT_NAMES) {
    const shape = shapes[name]
    const scale = shape.length === 2 ? Math.sqrt(6 / (shape[0] + shape[1])) : 0
    arrays[name] = Float32Array.from({length: shape.reduce((a, b) => a * b, 1)}, () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0
      return (state / 2 ** 32 - 0.5) * 2 * scale
    })
  }
  return classifierWeightsFromArrays(arrays, DEFAULT_HIDDEN_UNITS)
}

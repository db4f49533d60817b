import * as tf from '@tensorflow/tfjs'

import {UserError} from '../core/errors.js'

export const OPTIMIZER_NAMES = ['adam', 'sgd', 'rmsprop'] as const
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number]

/** One stored optimizer tensor (a moment, a running mean, …), float32. */
export interface OptimizerTensor {
  name: string
  shape: number[]
  values: Float32Array
}

/** Everything an optimizer carries between steps, as plain arrays: restoring it continues bit for bit. */
export interface OptimizerState {
  name: OptimizerName
  iterations: number
  tensors: OptimizerTensor[]
}

/**
 * Adam's running powers β1^t and β2^t. tf.train.adam keeps them as variables updated by repeated
 * multiplication but its setWeights recomputes them with pow(), which differs in the last bits;
 * they are stored and restored exactly so that a resumed run matches an uninterrupted one.
 */
const ADAM_BETA_POWERS = ['accBeta1', 'accBeta2'] as const
type AdamInternals = Record<(typeof ADAM_BETA_POWERS)[number], tf.Variable>

const ITERATIONS_WEIGHT = 'iter'

export function isOptimizerName(name: string): name is OptimizerName {
  return (OPTIMIZER_NAMES as readonly string[]).includes(name)
}

export function createOptimizer(name: string, learningRate: number): tf.Optimizer {
  switch (name) {
    case 'adam':
      return tf.train.adam(learningRate)
    case 'sgd':
      return tf.train.sgd(learningRate)
    case 'rmsprop':
      return tf.train.rmsprop(learningRate)
    default:
      throw new UserError(`unknown optimizer "${name}": use one of ${OPTIMIZER_NAMES.join(', ')}`)
  }
}

/** Changes the step size of a tf.train optimizer in place (for learning-rate schedules). */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  // SGD caches -learningRate as a tensor and has a setter for it; the others read the field each step.
  // (instanceof cannot tell them apart: tf.Optimizer's Symbol.hasInstance is duck-typed.)
  const withSetter = optimizer as unknown as {setLearningRate?: (rate: number) => void; learningRate: number}
  if (withSetter.setLearningRate) withSetter.setLearningRate(learningRate)
  else withSetter.learningRate = learningRate
}

export async function optimizerStateOf(optimizer: tf.Optimizer, name: OptimizerName): Promise<OptimizerState> {
  const named = await optimizer.getWeights()
  const tensors: OptimizerTensor[] = []
  let iterations = 0
  for (const {name: weightName, tensor} of named) {
    if (weightName === ITERATIONS_WEIGHT) {
      iterations = (await tensor.data())[0]
      tensor.dispose()
      continue
    }
    tensors.push({name: weightName, shape: [...tensor.shape], values: (await tensor.data()) as Float32Array})
  }
  if (name === 'adam') {
    const internals = optimizer as unknown as AdamInternals
    for (const power of ADAM_BETA_POWERS) {
      tensors.push({name: power, shape: [], values: (await internals[power].data()) as Float32Array})
    }
  }
  return {name, iterations, tensors}
}

/** Restores a state into a freshly created optimizer of the same kind. */
export async function restoreOptimizerState(optimizer: tf.Optimizer, state: OptimizerState): Promise<void> {
  const isBetaPower = (tensorName: string) => state.name === 'adam' && (ADAM_BETA_POWERS as readonly string[]).includes(tensorName)
  const slots = state.tensors.filter((entry) => !isBetaPower(entry.name))
  const named: Parameters<tf.Optimizer['setWeights']>[0] = [
    {name: ITERATIONS_WEIGHT, tensor: tf.scalar(state.iterations, 'int32')},
    ...slots.map((entry) => ({name: entry.name, tensor: tf.tensor(entry.values, entry.shape, 'float32')})),
  ]
  await optimizer.setWeights(named)
  // setWeights made variables of its own from these tensors.
  for (const {tensor} of named) tensor.dispose()
  if (state.name === 'adam') {
    const internals = optimizer as unknown as AdamInternals
    for (const power of ADAM_BETA_POWERS) {
      const stored = state.tensors.find((entry) => entry.name === power)
      if (!stored) throw new Error(`the Adam state lacks ${power}`)
      tf.tidy(() => internals[power].assign(tf.scalar(stored.values[0], 'float32')))
    }
  }
}

import * as tf from '@tensorflow/tfjs'

import {ClassifierWeights, WeightName, hiddenUnitsOf} from './weights.js'
import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../core/image.js'

export const INPUT_LAYER_NAME = 'x_input'
export const LSTM_LAYER_NAME = 'lstm'
export const OUTPUT_LAYER_NAME = 'y_output'

/** Each classifier weight's Keras path (layer/weight): its name in an export's weights manifest. */
export const KERAS_WEIGHT_PATHS: Record<WeightName, string> = {
  kernel: `${LSTM_LAYER_NAME}/kernel`,
  recurrentKernel: `${LSTM_LAYER_NAME}/recurrent_kernel`,
  bias: `${LSTM_LAYER_NAME}/bias`,
  denseKernel: `${OUTPUT_LAYER_NAME}/kernel`,
  denseBias: `${OUTPUT_LAYER_NAME}/bias`,
}

/**
 * The classifier as stock Keras layers: what an export is saved as, so that stock
 * `tf.loadLayersModel` reads it, and the reference the fast LSTM is checked against.
 * Outputs logits (no softmax), like the seed's `output_layer/add:0`.
 */
export function buildKerasClassifier(hidden: number): tf.LayersModel {
  // tf.layers' unitForgetBias initialiser leaks 4 intermediate tensors; the tidy frees them
  // (layer weights are variables, which a tidy keeps).
  let model: tf.LayersModel | undefined
  tf.tidy(() => {
    model = buildKerasLayers(hidden)
  })
  return model!
}

function buildKerasLayers(hidden: number): tf.LayersModel {
  const input = tf.input({shape: [IMAGE_ROWS, IMAGE_COLS], name: INPUT_LAYER_NAME})
  // recurrentActivation: TF.js defaults to hardSigmoid; the model's gates are true sigmoids.
  // recurrentInitializer: the default (orthogonal) takes seconds on a 128×512 matrix, paid by every
  // stock tf.loadLayersModel of an export before its stored weights replace the initial ones.
  const lastOutput = tf.layers
    .lstm({
      units: hidden,
      name: LSTM_LAYER_NAME,
      returnSequences: false,
      unitForgetBias: true,
      recurrentActivation: 'sigmoid',
      recurrentInitializer: 'glorotUniform',
    })
    .apply(input) as tf.SymbolicTensor
  const logits = tf.layers.dense({units: NUM_CLASSES, name: OUTPUT_LAYER_NAME}).apply(lastOutput) as tf.SymbolicTensor
  return tf.model({inputs: input, outputs: logits, name: 'mnist_rnn'})
}

/** A Keras model holding copies of the given weights. */
export function kerasClassifierFrom(weights: ClassifierWeights): tf.LayersModel {
  const model = buildKerasClassifier(hiddenUnitsOf(weights))
  model.getLayer(LSTM_LAYER_NAME).setWeights([weights.kernel, weights.recurrentKernel, weights.bias])
  model.getLayer(OUTPUT_LAYER_NAME).setWeights([weights.denseKernel, weights.denseBias])
  return model
}

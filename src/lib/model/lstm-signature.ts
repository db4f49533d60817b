import * as tf from '@tensorflow/tfjs'

/**
 * The last hidden state [batch, units] of a Keras-layout LSTM run over inputs [batch, time, features].
 * Gate order i, f, c, o; sigmoid gates, tanh activation (as Keras and BasicLSTMCell).
 * Differentiable with respect to every argument.
 */
export type LstmLastHidden = (
  inputs: tf.Tensor3D,
  kernel: tf.Tensor2D | tf.Variable,
  recurrentKernel: tf.Tensor2D | tf.Variable,
  bias: tf.Tensor1D | tf.Variable,
) => tf.Tensor2D

import * as tf from '@tensorflow/tfjs'

/**
 * The last hidden state [batch, units] of a Keras-layout LSTM run over inputs [batch, time, features].
 * Gate order i, f, c, o; sigmoid gates, tanh activation (as Keras and BasicLSTMCell).
 *
 * Reference implementation with plain ops: correct but slow (one Slice per gate per step).
 */
export function lstmLastHidden(
  inputs: tf.Tensor3D,
  kernel: tf.Tensor2D | tf.Variable,
  recurrentKernel: tf.Tensor2D | tf.Variable,
  bias: tf.Tensor1D | tf.Variable,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, time, features] = inputs.shape
    const units = recurrentKernel.shape[0]
    const projected = tf.add(tf.matMul(tf.reshape(inputs, [batch * time, features]), kernel), bias).reshape([batch, time, 4 * units])
    const steps = tf.unstack(projected, 1)
    let h = tf.zeros([batch, units]) as tf.Tensor2D
    let c = tf.zeros([batch, units]) as tf.Tensor2D
    for (const step of steps) {
      const z = tf.add(step, tf.matMul(h, recurrentKernel))
      const [zi, zf, zc, zo] = tf.split(z, 4, 1)
      c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zc)))
      h = tf.mul(tf.sigmoid(zo), tf.tanh(c))
    }
    return h
  })
}

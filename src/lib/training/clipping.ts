import * as tf from '@tensorflow/tfjs'

/**
 * Gradient clipping by global norm, as tf.clip_by_global_norm: when the L2 norm of all gradients
 * taken together exceeds `clipNorm`, every gradient is scaled by clipNorm / norm, which keeps the
 * update's direction and bounds its size (the usual guard against an LSTM's exploding gradients).
 * Returns the clipped gradients (new tensors; the caller disposes them and the inputs) and the
 * norm before clipping.
 */
export function clipByGlobalNorm(gradients: tf.Tensor[], clipNorm: number): {clipped: tf.Tensor[]; globalNorm: number} {
  const normTensor = globalNormOf(gradients)
  const globalNorm = normTensor.dataSync()[0]
  normTensor.dispose()
  if (!(globalNorm > clipNorm)) return {clipped: gradients.map((gradient) => tf.clone(gradient)), globalNorm}
  // A scalar computed in float32 the same way on every backend: the same inputs give the same bits.
  const scale = Math.fround(clipNorm / globalNorm)
  return {clipped: tf.tidy(() => gradients.map((gradient) => tf.mul(gradient, tf.scalar(scale)))), globalNorm}
}

/** sqrt(Σ g²) over every element of every tensor. */
export function globalNormOf(tensors: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(tensors.map((tensor) => tf.sum(tf.square(tensor))))) as tf.Scalar)
}

/**
 * The same clipping on plain arrays, in place: the data-parallel step sums its workers' gradients
 * in JavaScript and clips them there too (two passes over the values, cheaper than a round of
 * kernels on the main thread, which is the step's serial part). Returns the norm before clipping.
 */
export function clipArraysByGlobalNorm(arrays: Float32Array[], clipNorm: number): number {
  let sumOfSquares = 0
  for (const values of arrays) {
    for (let i = 0; i < values.length; i++) sumOfSquares += values[i] * values[i]
  }
  const globalNorm = Math.sqrt(sumOfSquares)
  if (globalNorm > clipNorm) {
    const scale = Math.fround(clipNorm / globalNorm)
    for (const values of arrays) {
      for (let i = 0; i < values.length; i++) values[i] *= scale
    }
  }
  return globalNorm
}

import * as tf from '@tensorflow/tfjs'

/** One function per input, each returning that input's gradient when (and only if) it is called. */
export type GradientThunks<K extends string> = Record<K, () => tf.Tensor>

interface CustomKernelInvocation {
  forwardFunc: () => tf.Tensor
  backwardsFunc: (dy: tf.Tensor) => Record<string, () => tf.Tensor>
  inputs: Record<string, tf.Tensor>
}

export interface EngineWithKernelFunc {
  runKernelFunc?: (invocation: CustomKernelInvocation) => tf.Tensor
}

/**
 * Records `forward` on the gradient tape as one op whose gradient is given by hand, like
 * tf.customGrad, except that each input's gradient is computed only if backpropagation asks for
 * it: tf.customGrad must produce every input's gradient eagerly, and the gradient of the images is
 * a large matmul that training never uses. The engine's tape already works this way (registered
 * gradients return thunks); tf.customGrad is a thin wrapper over the same engine method, used here
 * directly. Where that method is missing (another TF.js version), falls back to tf.customGrad.
 * (`engine` is a parameter for the tests of that fallback.)
 */
export function lazyGradientOp<K extends string>(
  inputs: Record<K, tf.Tensor>,
  forward: () => tf.Tensor,
  backward: (dy: tf.Tensor) => GradientThunks<K>,
  engine: EngineWithKernelFunc = tf.engine() as unknown as EngineWithKernelFunc,
): tf.Tensor {
  if (typeof engine.runKernelFunc === 'function') {
    return engine.runKernelFunc({forwardFunc: forward, backwardsFunc: backward, inputs})
  }
  const names = Object.keys(inputs) as K[]
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    void args
    return {
      value: forward(),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const thunks = backward(dy as tf.Tensor)
        return names.map((name) => thunks[name]())
      },
    }
  })
  return op(...names.map((name) => inputs[name]))
}

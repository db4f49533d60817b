import * as tf from '@tensorflow/tfjs'

import {hybridLstmLastHidden} from './hybrid-lstm.js'
import {LstmLastHidden} from './lstm-signature.js'

/**
 * How the LSTM is computed:
 *   hybrid  backend matmuls + typed-array gate math + hand-written backward pass (./hybrid-lstm.ts);
 *           for backends whose tensor reads are cheap synchronous copies (wasm, cpu)
 *   ops     plain tf ops and autodiff; for backends where reading a tensor back is costly or
 *           asynchronous (the native tensorflow backend, GPU backends), whose fused kernels make
 *           the op-by-op form fast anyway
 */
export type LstmImplementation = 'hybrid' | 'ops'

const HYBRID_BACKENDS: readonly string[] = ['wasm', 'cpu']

export function defaultLstmImplementation(backend: string = tf.getBackend()): LstmImplementation {
  return HYBRID_BACKENDS.includes(backend) ? 'hybrid' : 'ops'
}

/** The LSTM as plain tf ops: one input projection for all steps, then per step a matmul and the gates. */
export const opsLstmLastHidden: LstmLastHidden = (inputs, kernel, recurrentKernel, bias) =>
  tf.tidy(() => {
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

const IMPLEMENTATIONS: Record<LstmImplementation, LstmLastHidden> = {hybrid: hybridLstmLastHidden, ops: opsLstmLastHidden}

/** The LSTM in the implementation that suits the active backend. */
export const lstmLastHidden: LstmLastHidden = (...args) => IMPLEMENTATIONS[defaultLstmImplementation()](...args)

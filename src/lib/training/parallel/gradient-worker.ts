import * as tf from '@tensorflow/tfjs'
import {parentPort, workerData} from 'node:worker_threads'

import {selectBackend, wasmThreadsInUse} from '../../backend.js'
import {errorMessage} from '../../core/errors.js'
import {ClassifierWeights, WEIGHT_NAMES, WeightArrays, classifierWeightsFromArrays, weightShapes} from '../../model/weights.js'
import {batchGradients} from '../gradients.js'
import {GradientRequest, GradientWorkerData, GradientWorkerMessage} from './messages.js'
import {threadCpuMs} from './thread-cpu.js'

/**
 * A gradient worker thread: its own TF.js backend and its own copy of the weights, which every
 * request overwrites with the main thread's current values before computing on its slice of a batch.
 * Requests are handled one at a time in arrival order.
 */
const {backend: choice, hidden} = workerData as GradientWorkerData
const port = parentPort!
const shapes = weightShapes(hidden)

function send(message: GradientWorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer)
}

function zeroWeights(): WeightArrays {
  return Object.fromEntries(WEIGHT_NAMES.map((name) => [name, new Float32Array(shapes[name].reduce((a, b) => a * b, 1))])) as WeightArrays
}

let weights: ClassifierWeights

function setWeights(values: WeightArrays): void {
  tf.tidy(() => {
    for (const name of WEIGHT_NAMES) weights[name].assign(tf.tensor(values[name], shapes[name]))
  })
}

function handle(request: GradientRequest): void {
  const {id} = request
  const cpuBefore = threadCpuMs()
  try {
    setWeights(request.weights)
    const [loss, accuracy, ...gradients] = tf.tidy(() => {
      const result = batchGradients(weights, request.images, request.labels, request.count)
      return [result.loss, result.accuracy, ...result.gradients]
    })
    // Copies: on the cpu backend dataSync hands out the tensor's own storage, which is about to be transferred.
    const arrays = {} as WeightArrays
    WEIGHT_NAMES.forEach((name, index) => (arrays[name] = (gradients[index].dataSync() as Float32Array).slice()))
    const reply = {type: 'gradients', id, gradients: arrays, loss: loss.dataSync()[0], accuracy: accuracy.dataSync()[0]} as const
    tf.dispose([loss, accuracy, ...gradients])
    const cpuAfter = threadCpuMs()
    const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
    send({...reply, numTensors: tf.memory().numTensors, cpuMs}, WEIGHT_NAMES.map((name) => arrays[name].buffer as ArrayBuffer))
  } catch (error) {
    send({type: 'error', id, error: errorMessage(error).split('\n')[0]})
  }
}

// A worker whose backend fails says why and waits for the pool to end it.
try {
  const backend = await selectBackend(choice)
  weights = classifierWeightsFromArrays(zeroWeights(), hidden)
  port.on('message', handle)
  send({type: 'ready', backend, wasmThreads: wasmThreadsInUse()})
} catch (error) {
  send({type: 'failed', error: errorMessage(error).split('\n')[0]})
}

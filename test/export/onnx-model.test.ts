import * as tf from '@tensorflow/tfjs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {SeededRandom} from '../../src/lib/core/random.js'
import {loadMnistSplit} from '../../src/lib/data/mnist.js'
import {OnnxRuntimeModel} from '../../src/lib/export/engines/onnxruntime.js'
import {TfjsModel} from '../../src/lib/export/engines/tfjs.js'
import {ONNX_IR_VERSION, ONNX_OPSET_VERSION, encodeOnnxClassifier} from '../../src/lib/export/onnx/classifier-model.js'
import {KERAS_GATE_OF_ONNX_GATE, onnxGateBias, onnxGateRows} from '../../src/lib/export/onnx/lstm-weights.js'
import {onnxProtos} from '../../src/lib/export/onnx/onnx-proto.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {WEIGHT_NAMES, WeightArrays, classifierWeightsFromArrays, createClassifierWeights, disposeClassifierWeights, weightArraysOf, weightShapes} from '../../src/lib/model/weights.js'

const HIDDEN = 8

/** Weights with every value random, biases of all four gates included, so a wrong gate order shows. */
function randomWeights(hidden: number, seed: number): WeightArrays {
  const random = new SeededRandom(seed)
  const shapes = weightShapes(hidden)
  const arrays = {} as WeightArrays
  for (const name of WEIGHT_NAMES) {
    const values = new Float32Array(shapes[name].reduce((a, b) => a * b, 1))
    for (let i = 0; i < values.length; i++) values[i] = (random.next() - 0.5) * 0.8
    arrays[name] = values
  }
  return arrays
}

function encode(weights: WeightArrays, hidden = HIDDEN): Buffer {
  return encodeOnnxClassifier({weights, hidden, producerVersion: '0.1.0'})
}

function argmaxRows(logits: Float32Array): number[] {
  const rows: number[] = []
  for (let row = 0; row < logits.length / 10; row++) {
    const slice = Array.from(logits.subarray(row * 10, row * 10 + 10))
    rows.push(slice.indexOf(Math.max(...slice)))
  }
  return rows
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]))
  return max
}

interface Decoded {
  ir_version: number
  opset_import: Array<{domain?: string; version: number}>
  producer_name: string
  graph: {
    node: Array<{op_type: string; input: string[]; output: string[]; attribute: Array<{name: string; i?: number; ints?: number[]; s?: Uint8Array; strings?: Uint8Array[]}>}>
    initializer: Array<{name: string; dims: number[]; data_type: number; raw_data?: Uint8Array}>
    input: Array<{name: string; type: {tensor_type: {elem_type: number; shape: {dim: Array<{dim_value?: number; dim_param?: string}>}}}}>
    output: Array<{name: string; type: {tensor_type: {elem_type: number; shape: {dim: Array<{dim_value?: number; dim_param?: string}>}}}}>
  }
}

function decode(bytes: Uint8Array): Decoded {
  const {ModelProto} = onnxProtos()
  return ModelProto.toObject(ModelProto.decode(bytes), {longs: Number, defaults: false, arrays: true}) as Decoded
}

describe('Keras → ONNX LSTM weights', () => {
  it('transposes the kernel and reorders its gate blocks from Keras i, f, c, o to ONNX i, o, f, c', () => {
    // Keras kernel [2 inputs, 4 gates × 1 unit]: value = 10·input + gate (i=0, f=1, c=2, o=3).
    const keras = new Float32Array([0, 1, 2, 3, 10, 11, 12, 13])
    // ONNX W [4 gates × 1 unit, 2 inputs], gates i, o, f, c.
    expect(Array.from(onnxGateRows(keras, 2, 1))).toEqual([0, 10, 3, 13, 1, 11, 2, 12])
    expect(Array.from(onnxGateBias(new Float32Array([0, 1, 2, 3]), 1))).toEqual([0, 3, 1, 2])
    expect([...KERAS_GATE_OF_ONNX_GATE]).toEqual([0, 3, 1, 2])
  })

  it('keeps each unit inside its gate block when there are several units', () => {
    // Keras [1 input, 4 gates × 2 units]: value = 10·gate + unit.
    const keras = new Float32Array([0, 1, 10, 11, 20, 21, 30, 31])
    expect(Array.from(onnxGateRows(keras, 1, 2))).toEqual([0, 1, 30, 31, 10, 11, 20, 21])
  })
})

describe('model.onnx', () => {
  beforeAll(async () => {
    await selectBackend('wasm')
  })

  it('is one Transpose → LSTM → Squeeze → Gemm graph, opset 14, x_input [N, 28, 28] → y_output [N, 10]', () => {
    const weights = randomWeights(HIDDEN, 1)
    const model = decode(encode(weights))
    expect(model.ir_version).toBe(ONNX_IR_VERSION)
    expect(model.opset_import).toEqual([{domain: '', version: ONNX_OPSET_VERSION}])
    expect(ONNX_OPSET_VERSION).toBeGreaterThanOrEqual(14)
    expect(model.producer_name).toBe('mnist-rnn')
    const {graph} = model
    expect(graph.node.map((node) => node.op_type)).toEqual(['Transpose', 'LSTM', 'Squeeze', 'Gemm'])
    const shapeOf = (value: Decoded['graph']['input'][number]) => value.type.tensor_type.shape.dim.map((dim) => dim.dim_param ?? dim.dim_value)
    expect(graph.input.map((value) => [value.name, value.type.tensor_type.elem_type, shapeOf(value)])).toEqual([['x_input', 1, ['N', 28, 28]]])
    expect(graph.output.map((value) => [value.name, value.type.tensor_type.elem_type, shapeOf(value)])).toEqual([['y_output', 1, ['N', 10]]])

    const [transpose, lstm, , gemm] = graph.node
    expect(transpose.input).toEqual(['x_input'])
    expect(transpose.attribute).toEqual([expect.objectContaining({name: 'perm', ints: [1, 0, 2]})])
    const attribute = (name: string) => lstm.attribute.find((candidate) => candidate.name === name)
    expect(attribute('hidden_size')?.i).toBe(HIDDEN)
    expect(attribute('layout')?.i ?? 0).toBe(0)
    expect(attribute('activations')?.strings?.map((text) => Buffer.from(text).toString())).toEqual(['Sigmoid', 'Tanh', 'Tanh'])
    expect(Buffer.from(attribute('direction')!.s!).toString()).toBe('forward')
    // Y unused, Y_h (the last hidden state) feeds the Gemm through the Squeeze.
    expect(lstm.output[0]).toBe('')
    expect(gemm.output).toEqual(['y_output'])

    const initializer = Object.fromEntries(graph.initializer.map((tensor) => [tensor.name, tensor]))
    expect(initializer.lstm_W.dims).toEqual([1, 4 * HIDDEN, 28])
    expect(initializer.lstm_R.dims).toEqual([1, 4 * HIDDEN, HIDDEN])
    expect(initializer.lstm_B.dims).toEqual([1, 8 * HIDDEN])
    const B = new Float32Array(new Uint8Array(initializer.lstm_B.raw_data!).buffer)
    expect(Array.from(B.subarray(0, 4 * HIDDEN))).toEqual(Array.from(onnxGateBias(weights.bias, HIDDEN)))
    expect(B.subarray(4 * HIDDEN).every((value) => value === 0)).toBe(true)
    expect(initializer.dense_kernel.dims).toEqual([HIDDEN, 10])
    expect(new Float32Array(new Uint8Array(initializer.dense_kernel.raw_data!).buffer)).toEqual(weights.denseKernel)
  })

  it('encodes the same weights to the same bytes', () => {
    const weights = randomWeights(HIDDEN, 2)
    expect(encode(weights).equals(encode(weights))).toBe(true)
  })

  it('gives, in ONNX Runtime, the logits of our fast LSTM within 1e-5 (1 and 2 intra-op threads, batches 1 and 7)', async () => {
    const weightArrays = randomWeights(HIDDEN, 3)
    const images = loadMnistSplit('test', undefined, 7).images
    const weights = classifierWeightsFromArrays(weightArrays, HIDDEN)
    const ours = tf.tidy(() => classifierLogits(weights, tf.tensor3d(images, [7, 28, 28])).dataSync() as Float32Array)
    disposeClassifierWeights(weights)
    for (const threads of [1, 2]) {
      const model = await OnnxRuntimeModel.create(encode(weightArrays), threads)
      try {
        expect(maxAbsDifference(await model.run(images, 7), ours)).toBeLessThan(1e-5)
        expect(maxAbsDifference(await model.run(images, 1), ours.subarray(0, 10))).toBeLessThan(1e-5)
      } finally {
        await model.release()
      }
    }
  })

  describe('on a small trained model', () => {
    const TRAIN_STEPS = 300
    const BATCH = 64
    const TEST_IMAGES = 2000
    let trained: WeightArrays

    beforeAll(() => {
      const hidden = 16
      const random = new SeededRandom(5)
      const weights = createClassifierWeights(hidden, 4)
      const train = loadMnistSplit('train', undefined, TRAIN_STEPS * BATCH)
      const optimizer = tf.train.adam(0.01)
      for (let step = 0; step < TRAIN_STEPS; step++) {
        const offset = random.nextInt(TRAIN_STEPS) * BATCH
        tf.tidy(() => {
          const images = tf.tensor3d(train.images.subarray(offset * 784, (offset + BATCH) * 784), [BATCH, 28, 28])
          const labels = tf.oneHot(tf.tensor1d(train.labels.subarray(offset, offset + BATCH), 'int32'), 10)
          optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, classifierLogits(weights, images)) as tf.Scalar)
        })
      }
      optimizer.dispose()
      trained = weightArraysOf(weights)
      disposeClassifierWeights(weights)
    })

    it('gets the same argmax from both engines on 2,000 test images, at an accuracy a trained model reaches', async () => {
      const test = loadMnistSplit('test', undefined, TEST_IMAGES)
      const tfjs = TfjsModel.fromArrays(trained, 16)
      const onnx = await OnnxRuntimeModel.create(encode(trained, 16), 2)
      try {
        const tfjsLabels = argmaxRows(await tfjs.run(test.images, TEST_IMAGES))
        const onnxLabels = argmaxRows(await onnx.run(test.images, TEST_IMAGES))
        expect(onnxLabels).toEqual(tfjsLabels)
        const correct = onnxLabels.filter((label, index) => label === test.labels[index]).length
        expect(correct / TEST_IMAGES).toBeGreaterThan(0.7)
      } finally {
        await tfjs.release()
        await onnx.release()
      }
    })
  })

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0)
  })
})

import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../../core/image.js'
import {WeightArrays} from '../../model/weights.js'
import {INPUT_NAME, OUTPUT_NAME} from '../format.js'
import {onnxLstmWeights} from './lstm-weights.js'
import {onnxProtos} from './onnx-proto.js'

/**
 * The classifier as an ONNX model: the network of model.json in the format that ONNX Runtime,
 * Triton's `onnxruntime_onnx` backend and KServe's ONNX runtimes load.
 *
 *   x_input  float [N, 28, 28]
 *     → Transpose(perm 1,0,2)          [28, N, 28]   time-major: ONNX Runtime's CPU LSTM refuses layout = 1
 *     → LSTM(hidden_size H, layout 0)  Y_h [1, N, H] the last hidden state
 *     → Squeeze(axes 0)                [N, H]
 *     → Gemm(dense kernel, dense bias) y_output float [N, 10] logits
 */
/** Opset 14: the first in which `LSTM` has `layout` (kept at its default 0) and `Squeeze` takes axes as an input. */
export const ONNX_OPSET_VERSION = 14
/** The IR version that ONNX 1.9 introduced together with opset 14. */
export const ONNX_IR_VERSION = 7
export const ONNX_PRODUCER_NAME = 'mnist-rnn'
/** The symbolic batch dimension of the graph's input and output. */
export const ONNX_BATCH_DIM = 'N'

/** Names inside the graph (the input and output carry the signature's names). */
const VALUES = {
  timeMajor: 'x_time_major',
  lastHiddenPerDirection: 'lstm_Y_h',
  lastHidden: 'lstm_last_hidden',
  W: 'lstm_W',
  R: 'lstm_R',
  B: 'lstm_B',
  squeezeAxes: 'squeeze_axes',
  denseKernel: 'dense_kernel',
  denseBias: 'dense_bias',
} as const

export interface OnnxClassifierOptions {
  weights: WeightArrays
  hidden: number
  producerVersion: string
}

/** A ModelProto in protobufjs's plain-object form (enums by number, bytes as Uint8Array). */
type Message = Record<string, unknown>

function floatTensor(name: string, dims: number[], values: Float32Array): Message {
  // raw_data is little-endian, which is how a Float32Array lies in memory on every platform Node supports.
  return {name, dims, data_type: onnxProtos().DataType.FLOAT, raw_data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength)}
}

function int64Tensor(name: string, dims: number[], values: number[]): Message {
  return {name, dims, data_type: onnxProtos().DataType.INT64, int64_data: values}
}

function floatValueInfo(name: string, dims: Array<number | string>): Message {
  const dim = dims.map((size) => (typeof size === 'string' ? {dim_param: size} : {dim_value: size}))
  return {name, type: {tensor_type: {elem_type: onnxProtos().DataType.FLOAT, shape: {dim}}}}
}

function intAttribute(name: string, value: number): Message {
  return {name, type: onnxProtos().AttributeType.INT, i: value}
}

function intsAttribute(name: string, values: number[]): Message {
  return {name, type: onnxProtos().AttributeType.INTS, ints: values}
}

function stringAttribute(name: string, value: string): Message {
  return {name, type: onnxProtos().AttributeType.STRING, s: new TextEncoder().encode(value)}
}

function stringsAttribute(name: string, values: string[]): Message {
  return {name, type: onnxProtos().AttributeType.STRINGS, strings: values.map((value) => new TextEncoder().encode(value))}
}

/** The ModelProto as a plain object, before encoding. */
export function onnxClassifierModel(options: OnnxClassifierOptions): Message {
  const {weights, hidden} = options
  const [inputName, outputName] = [INPUT_NAME, OUTPUT_NAME]
  const lstm = onnxLstmWeights(weights, IMAGE_COLS, hidden)
  const nodes: Message[] = [
    {name: 'rows_as_time_steps', op_type: 'Transpose', input: [inputName], output: [VALUES.timeMajor], attribute: [intsAttribute('perm', [1, 0, 2])]},
    {
      name: 'lstm',
      op_type: 'LSTM',
      // Inputs X, W, R, B; outputs Y (unused, so unnamed) and Y_h.
      input: [VALUES.timeMajor, VALUES.W, VALUES.R, VALUES.B],
      output: ['', VALUES.lastHiddenPerDirection],
      attribute: [
        intAttribute('hidden_size', hidden),
        stringsAttribute('activations', ['Sigmoid', 'Tanh', 'Tanh']),
        stringAttribute('direction', 'forward'),
        intAttribute('layout', 0),
      ],
    },
    {name: 'drop_direction_axis', op_type: 'Squeeze', input: [VALUES.lastHiddenPerDirection, VALUES.squeezeAxes], output: [VALUES.lastHidden]},
    {name: 'dense', op_type: 'Gemm', input: [VALUES.lastHidden, VALUES.denseKernel, VALUES.denseBias], output: [outputName]},
  ]
  const initializer = [
    floatTensor(VALUES.W, [1, 4 * hidden, IMAGE_COLS], lstm.W),
    floatTensor(VALUES.R, [1, 4 * hidden, hidden], lstm.R),
    floatTensor(VALUES.B, [1, 8 * hidden], lstm.B),
    int64Tensor(VALUES.squeezeAxes, [1], [0]),
    floatTensor(VALUES.denseKernel, [hidden, NUM_CLASSES], weights.denseKernel),
    floatTensor(VALUES.denseBias, [NUM_CLASSES], weights.denseBias),
  ]
  return {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{domain: '', version: ONNX_OPSET_VERSION}],
    producer_name: ONNX_PRODUCER_NAME,
    producer_version: options.producerVersion,
    doc_string: `LSTM MNIST classifier: ${IMAGE_ROWS} rows of ${IMAGE_COLS} pixels as time steps, ${hidden} units, the last hidden state to ${NUM_CLASSES} logits`,
    graph: {
      name: 'mnist_rnn',
      node: nodes,
      initializer,
      input: [floatValueInfo(inputName, [ONNX_BATCH_DIM, IMAGE_ROWS, IMAGE_COLS])],
      output: [floatValueInfo(outputName, [ONNX_BATCH_DIM, NUM_CLASSES])],
    },
  }
}

/** model.onnx's bytes, encoded by protobufjs from ONNX's own onnx.proto. */
export function encodeOnnxClassifier(options: OnnxClassifierOptions): Buffer {
  const {ModelProto} = onnxProtos()
  const model = onnxClassifierModel(options)
  const problem = ModelProto.verify(model)
  if (problem) throw new Error(`the ONNX model does not match onnx.proto: ${problem}`)
  return Buffer.from(ModelProto.encode(ModelProto.fromObject(model)).finish())
}

interface DecodedValueInfo {
  name?: string
  type?: {tensor_type?: {elem_type?: number; shape?: {dim?: Array<{dim_value?: number; dim_param?: string}>}}}
}

function shapeText(value: DecodedValueInfo): string {
  const dims = value.type?.tensor_type?.shape?.dim ?? []
  return `[${dims.map((dim) => dim.dim_param ?? dim.dim_value ?? '?').join(', ')}]`
}

/**
 * Why model.onnx's bytes are not this classifier's graph, or undefined when they are: they must
 * decode as an ONNX ModelProto whose graph takes one float x_input [N, 28, 28] and answers one
 * float y_output [N, 10] (N symbolic).
 */
export function onnxModelProblem(bytes: Uint8Array): string | undefined {
  const {ModelProto, DataType} = onnxProtos()
  let model: {graph?: {input?: DecodedValueInfo[]; output?: DecodedValueInfo[]; initializer?: Array<{name?: string}>}}
  try {
    model = ModelProto.toObject(ModelProto.decode(bytes), {longs: Number, arrays: true}) as typeof model
  } catch (error) {
    return `model.onnx is not an ONNX model (${error instanceof Error ? error.message : String(error)})`
  }
  const initializers = new Set((model.graph?.initializer ?? []).map((tensor) => tensor.name))
  // Before IR version 4 initializers were also listed as inputs; only the fed ones count.
  const inputs = (model.graph?.input ?? []).filter((value) => !initializers.has(value.name))
  const outputs = model.graph?.output ?? []
  const problemWith = (values: DecodedValueInfo[], role: string, name: string, dims: number[]): string | undefined => {
    const found = values.map((value) => `${value.name} ${shapeText(value)}`).join(', ') || 'nothing'
    const wanted = `${name} [N, ${dims.join(', ')}]`
    if (values.length !== 1 || values[0].name !== name) return `model.onnx's graph ${role} ${found}, not ${wanted}`
    const value = values[0]
    const shape = value.type?.tensor_type?.shape?.dim ?? []
    const batchIsSymbolic = shape.length > 0 && shape[0].dim_value === undefined
    const rest = shape.slice(1).map((dim) => dim.dim_value)
    if (value.type?.tensor_type?.elem_type !== DataType.FLOAT || !batchIsSymbolic || rest.join() !== dims.join()) {
      return `model.onnx's ${role} ${name} is ${shapeText(value)} of element type ${value.type?.tensor_type?.elem_type}, not float ${wanted}`
    }
    return undefined
  }
  return problemWith(inputs, 'takes', INPUT_NAME, [IMAGE_ROWS, IMAGE_COLS]) ?? problemWith(outputs, 'answers', OUTPUT_NAME, [NUM_CLASSES])
}

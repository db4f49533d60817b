import {FLOAT_DTYPE} from '../../export/format.js'
import {float32FromLittleEndian, littleEndianBytes} from '../../core/little-endian.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS} from '../../core/image.js'
import {TensorProtoMessage, TensorShapeMessage} from './protos.js'
import {ServingError} from '../api.js'

const FLOAT_BYTES = 4

/** How a client packs float values: `float_val` (repeated float) or raw `tensor_content` bytes. */
export type TensorEncoding = 'float_val' | 'tensor_content'

/** A DT_FLOAT TensorProto of `values` with `shape`, as the answer's outputs and clients' inputs carry it. */
export function floatTensorProto(values: Float32Array, shape: number[], encoding: TensorEncoding = 'float_val'): TensorProtoMessage {
  const tensorShape: TensorShapeMessage = {dim: shape.map((size) => ({size}))}
  if (encoding === 'float_val') {
    return {dtype: FLOAT_DTYPE, tensor_shape: tensorShape, float_val: Array.from(values), tensor_content: new Uint8Array(0)}
  }
  return {dtype: FLOAT_DTYPE, tensor_shape: tensorShape, float_val: [], tensor_content: littleEndianBytes(values)}
}

function invalid(message: string): ServingError {
  return new ServingError('INVALID_ARGUMENT', message)
}

function shapeText(shape: number[]): string {
  return `[${shape.join(',')}]`
}

/** The shape of a DT_FLOAT TensorProto; INVALID_ARGUMENT naming `alias` for another dtype or a bad shape. */
function floatTensorShape(tensor: TensorProtoMessage, alias: string): number[] {
  if (tensor.dtype !== FLOAT_DTYPE) {
    const dtype = typeof tensor.dtype === 'number' ? `DataType ${tensor.dtype}` : tensor.dtype || 'DT_INVALID'
    throw invalid(`${alias} must be ${FLOAT_DTYPE}, got ${dtype}`)
  }
  if (!tensor.tensor_shape || tensor.tensor_shape.unknown_rank) throw invalid(`${alias} has no tensor_shape`)
  const shape = tensor.tensor_shape.dim.map((dim) => Number(dim.size))
  if (shape.some((size) => !Number.isSafeInteger(size) || size < 0)) {
    throw invalid(`${alias} has an invalid shape ${shapeText(shape)}: sizes must be non-negative`)
  }
  return shape
}

/**
 * The values of a TensorProto of `shape`, from `tensor_content` (little-endian, as TensorFlow
 * writes it) when present, else from `float_val`; INVALID_ARGUMENT when the count does not match.
 */
function floatTensorValues(tensor: TensorProtoMessage, shape: number[], alias: string): Float32Array {
  const expected = shape.reduce((a, b) => a * b, 1)
  const content = tensor.tensor_content
  if (content && content.length > 0) {
    if (content.length !== expected * FLOAT_BYTES) {
      throw invalid(`${alias} has ${content.length} bytes of tensor_content for shape ${shapeText(shape)} (${expected * FLOAT_BYTES} expected)`)
    }
    return float32FromLittleEndian(content)
  }
  if (tensor.float_val.length !== expected) {
    throw invalid(`${alias} has ${tensor.float_val.length} float_val values for shape ${shapeText(shape)} (${expected} expected)`)
  }
  // `json` decoding gives NaN and ±Infinity as strings; the Float32Array constructor converts them back.
  return new Float32Array(tensor.float_val as number[])
}

/** The values and shape of a DT_FLOAT TensorProto (an answer's output, say). */
export function floatsFromTensorProto(tensor: TensorProtoMessage, alias: string): {values: Float32Array; shape: number[]} {
  const shape = floatTensorShape(tensor, alias)
  return {values: floatTensorValues(tensor, shape, alias), shape}
}

/**
 * A batch of images from an input TensorProto shaped [N, 28, 28] or [N, 784], N ≥ 1;
 * INVALID_ARGUMENT saying what is wrong otherwise. Pixel values are checked by the core, as for
 * REST, so both front ends refuse NaN and ±Infinity alike.
 */
export function imagesFromTensorProto(tensor: TensorProtoMessage, alias: string): {images: Float32Array; count: number} {
  const shape = floatTensorShape(tensor, alias)
  const isRows = shape.length === 3 && shape[1] === IMAGE_ROWS && shape[2] === IMAGE_COLS
  const isFlat = shape.length === 2 && shape[1] === IMAGE_PIXELS
  if (!isRows && !isFlat) {
    throw invalid(`${alias} has shape ${shapeText(shape)}; expected [N,${IMAGE_ROWS},${IMAGE_COLS}] or [N,${IMAGE_PIXELS}]`)
  }
  const count = shape[0]
  if (count === 0) throw invalid(`${alias} is an empty batch: N must be at least 1`)
  return {images: floatTensorValues(tensor, shape, alias), count}
}

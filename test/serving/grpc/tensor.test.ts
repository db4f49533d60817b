import {describe, expect, it} from 'vitest'

import {TensorProtoMessage} from '../../../src/lib/serving/grpc/protos.js'
import {floatTensorProto, floatsFromTensorProto, imagesFromTensorProto} from '../../../src/lib/serving/grpc/tensor.js'
import {ServingError} from '../../../src/lib/serving/api.js'

const PIXELS = 784

function ramp(count: number): Float32Array {
  return Float32Array.from({length: count * PIXELS}, (_, i) => (i % 256) / 255)
}

function rejection(tensor: TensorProtoMessage): ServingError {
  try {
    imagesFromTensorProto(tensor, 'input x_input')
  } catch (error) {
    expect(error).toBeInstanceOf(ServingError)
    return error as ServingError
  }
  throw new Error('expected the tensor to be refused')
}

describe('TensorProto ⇄ Float32Array', () => {
  it('float_val and little-endian tensor_content carry the same images, [N,28,28] and [N,784] alike', () => {
    const images = ramp(3)
    for (const shape of [[3, 28, 28], [3, 784]]) {
      const viaFloats = imagesFromTensorProto(floatTensorProto(images, shape, 'float_val'), 'x')
      const viaBytes = imagesFromTensorProto(floatTensorProto(images, shape, 'tensor_content'), 'x')
      expect(viaFloats.count).toBe(3)
      expect(viaBytes.count).toBe(3)
      expect(viaFloats.images).toEqual(images)
      expect(viaBytes.images).toEqual(images)
    }
  })

  it('writes tensor_content as little-endian float32, as TensorFlow does', () => {
    const proto = floatTensorProto(Float32Array.of(1, -2.5), [2], 'tensor_content')
    expect(Buffer.from(proto.tensor_content).toString('hex')).toBe('0000803f000020c0')
    expect(proto.float_val).toEqual([])
  })

  it('reads tensor_content from a buffer at an unaligned offset (as decoders hand out slices)', () => {
    const values = Float32Array.of(0.25, 0.5, 0.75, 1)
    const bytes = Buffer.alloc(1 + 16)
    for (let i = 0; i < 4; i++) bytes.writeFloatLE(values[i], 1 + i * 4)
    const tensor: TensorProtoMessage = {dtype: 'DT_FLOAT', tensor_shape: {dim: [{size: 2}, {size: 2}]}, float_val: [], tensor_content: bytes.subarray(1)}
    expect(floatsFromTensorProto(tensor, 'x')).toEqual({values, shape: [2, 2]})
  })

  it('refuses other dtypes, naming the one sent', () => {
    const tensor = {...floatTensorProto(ramp(1), [1, 28, 28]), dtype: 'DT_DOUBLE'}
    const error = rejection(tensor)
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toBe('input x_input must be DT_FLOAT, got DT_DOUBLE')
    expect(rejection({...tensor, dtype: 0 as unknown as string}).message).toMatch(/got DataType 0|got DT_INVALID/)
  })

  it('refuses shapes other than [N,28,28] or [N,784], and an empty batch', () => {
    expect(rejection(floatTensorProto(ramp(1), [28, 28])).message).toBe('input x_input has shape [28,28]; expected [N,28,28] or [N,784]')
    expect(rejection(floatTensorProto(ramp(1), [1, 27, 29])).message).toMatch(/has shape \[1,27,29\]/)
    expect(rejection(floatTensorProto(new Float32Array(0), [0, 784])).message).toMatch(/empty batch/)
    const noShape = {...floatTensorProto(ramp(1), [1, 784]), tensor_shape: null}
    expect(rejection(noShape).message).toBe('input x_input has no tensor_shape')
    const negative = floatTensorProto(ramp(1), [1, 784])
    negative.tensor_shape!.dim[0].size = -1
    expect(rejection(negative).message).toMatch(/invalid shape \[-1,784\]/)
  })

  it('refuses a value count or byte length that does not match the shape', () => {
    expect(rejection(floatTensorProto(ramp(1), [2, 784])).code).toBe('INVALID_ARGUMENT')
    expect(rejection(floatTensorProto(ramp(1), [2, 784])).message).toBe(
      'input x_input has 784 float_val values for shape [2,784] (1568 expected)',
    )
    expect(rejection(floatTensorProto(ramp(1), [2, 784], 'tensor_content')).message).toBe(
      'input x_input has 3136 bytes of tensor_content for shape [2,784] (6272 expected)',
    )
  })

  it('keeps NaN and ±Infinity as such (JSON-decoded strings too), for the core to refuse', () => {
    const images = ramp(2)
    images[PIXELS + 5] = Number.NaN
    expect(imagesFromTensorProto(floatTensorProto(images, [2, 28, 28], 'tensor_content'), 'x').images[PIXELS + 5]).toBeNaN()
    const asStrings = floatTensorProto(ramp(1), [1, 784])
    asStrings.float_val[3] = '-Infinity'
    asStrings.float_val[4] = 'NaN'
    const decoded = imagesFromTensorProto(asStrings, 'x').images
    expect(decoded[3]).toBe(-Infinity)
    expect(decoded[4]).toBeNaN()
    expect(decoded[5]).toBe(ramp(1)[5])
  })
})

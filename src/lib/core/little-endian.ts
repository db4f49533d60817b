import {endianness} from 'node:os'

/**
 * float32 values to and from little-endian bytes, the byte order of TensorFlow's tensor_content
 * and of the Open Inference Protocol's raw and binary tensors. On a little-endian machine (every
 * machine Node ships for but s390x) the bytes are the Float32Array's own memory, copied once.
 */

const FLOAT32_BYTES = 4
const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE'

/** The float32 values of `bytes` (a multiple of 4 long), whatever its alignment. */
export function float32FromLittleEndian(bytes: Uint8Array): Float32Array {
  const count = Math.floor(bytes.length / FLOAT32_BYTES)
  // ArrayBuffer.slice copies into fresh, aligned memory without zero-filling it first.
  if (HOST_IS_LITTLE_ENDIAN) return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + count * FLOAT32_BYTES))
  const values = new Float32Array(count)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * FLOAT32_BYTES, true)
  return values
}

/** `values` as little-endian bytes (a view of the same memory on a little-endian machine). */
export function littleEndianBytes(values: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  const bytes = new Uint8Array(values.length * FLOAT32_BYTES)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * FLOAT32_BYTES, values[i], true)
  return bytes
}

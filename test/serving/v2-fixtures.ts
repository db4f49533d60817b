import {expect} from 'vitest'

/** What the V2 tests share: tensors as little-endian bytes, argmax rows, logits compared with eval's. */

export const PIXELS = 784
export const CLASSES = 10
/** The server's logits against the ones computed in the test process (both wasm). */
const TOLERANCE = 1e-5

export function bytesOf(values: Float32Array): Buffer {
  const bytes = Buffer.alloc(values.length * 4)
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4))
  return bytes
}

export function floatsOf(bytes: Buffer): number[] {
  return Array.from({length: bytes.length / 4}, (_, i) => bytes.readFloatLE(i * 4))
}

export function argmaxRows(values: ArrayLike<number>, count: number): number[] {
  return Array.from({length: count}, (_, i) => {
    let best = 0
    for (let k = 1; k < CLASSES; k++) if (values[i * CLASSES + k] > values[i * CLASSES + best]) best = k
    return best
  })
}

/** `values` are the first `count` rows of `expected` (within float32 noise) and predict the same digits. */
export function expectLogits(values: ArrayLike<number>, expected: Float32Array, count: number): void {
  expect(values.length).toBe(count * CLASSES)
  for (let i = 0; i < count * CLASSES; i++) expect(Math.abs(values[i] - expected[i])).toBeLessThanOrEqual(TOLERANCE)
  expect(argmaxRows(values, count)).toEqual(argmaxRows(expected, count))
}

/**
 * Large Float32Arrays kept for reuse by the hybrid LSTM. A training step needs ~20 MB of scratch
 * arrays; allocated fresh each time, they cost page faults on first touch and frequent major
 * garbage collections (V8 collects when external memory grows). Arrays come back dirty: callers
 * initialise what they read.
 */
export class ArrayPool {
  private readonly free = new Map<number, Float32Array[]>()
  private pooledBytes = 0

  /**
   * @param maxPerLength arrays kept per length (a pass uses a few of the same length)
   * @param maxBytes     bytes kept in all (batch sizes vary, e.g. when serving)
   */
  constructor(
    private readonly maxPerLength = 4,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  take(length: number): Float32Array {
    const array = this.free.get(length)?.pop()
    if (!array) return new Float32Array(length)
    this.pooledBytes -= array.byteLength
    return array
  }

  /** Hands arrays back; the caller must not touch them afterwards. */
  give(...arrays: Float32Array[]): void {
    for (const array of arrays) {
      // A view into a larger buffer cannot be reused as a whole.
      if (array.byteOffset !== 0 || array.byteLength !== array.buffer.byteLength) continue
      const list = this.free.get(array.length) ?? []
      if (list.length >= this.maxPerLength || list.includes(array) || this.pooledBytes + array.byteLength > this.maxBytes) continue
      list.push(array)
      this.free.set(array.length, list)
      this.pooledBytes += array.byteLength
    }
  }
}

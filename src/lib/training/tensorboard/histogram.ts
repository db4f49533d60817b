/**
 * Histograms as TensorFlow's summary op builds them (tensorflow/core/lib/histogram/histogram.cc):
 * bucket limits that grow by 10% from ±1e-12 to ±1e20, plus 0 and ±DBL_MAX; each value counts in
 * the first bucket whose limit is above it; runs of empty buckets collapse into one on encoding.
 */

/** The fields of tensorboard.HistogramProto (histogram.proto), named as there. */
export interface Histogram {
  min: number
  max: number
  num: number
  sum: number
  sum_squares: number
  bucket_limit: number[]
  bucket: number[]
}

const SMALLEST_LIMIT = 1e-12
const LARGEST_LIMIT = 1e20
const GROWTH = 1.1

let defaultLimits: Float64Array | undefined

/** TensorFlow's default bucket limits: -DBL_MAX, …, -1e-12, 0, 1e-12, …, DBL_MAX (1,551 limits). */
export function defaultBucketLimits(): Float64Array {
  if (!defaultLimits) {
    const positive: number[] = []
    for (let limit = SMALLEST_LIMIT; limit < LARGEST_LIMIT; limit *= GROWTH) positive.push(limit)
    positive.push(Number.MAX_VALUE)
    defaultLimits = Float64Array.from([...positive.map((limit) => -limit).reverse(), 0, ...positive])
  }
  return defaultLimits
}

/** Index of the first limit greater than value (std::upper_bound). */
function upperBound(limits: Float64Array, value: number): number {
  let low = 0
  let high = limits.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (limits[middle] <= value) low = middle + 1
    else high = middle
  }
  return low
}

/** The histogram of a set of values, encoded as TensorFlow encodes it (empty buckets collapsed). */
export function histogramOf(values: ArrayLike<number>): Histogram {
  const limits = defaultBucketLimits()
  const counts = new Float64Array(limits.length)
  let min = Number.MAX_VALUE
  let max = -Number.MAX_VALUE
  let sum = 0
  let sumSquares = 0
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    counts[upperBound(limits, value)] += 1
    if (value < min) min = value
    if (value > max) max = value
    sum += value
    sumSquares += value * value
  }
  const bucketLimit: number[] = []
  const bucket: number[] = []
  for (let i = 0; i < counts.length; ) {
    let end = limits[i]
    let count = counts[i]
    i++
    if (count <= 0) {
      while (i < counts.length && counts[i] <= 0) {
        end = limits[i]
        count = counts[i]
        i++
      }
    }
    bucketLimit.push(end)
    bucket.push(count)
  }
  return {min, max, num: values.length, sum, sum_squares: sumSquares, bucket_limit: bucketLimit, bucket}
}

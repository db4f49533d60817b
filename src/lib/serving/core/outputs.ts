import {NUM_CLASSES} from '../../core/image.js'

/** What the front ends derive from a batch of [count, 10] logits: probabilities and top-k classes. */

/** Softmax of each row of [count, 10] logits (in float64, shifted by the row's maximum). */
export function softmaxRows(logits: Float32Array, count: number): Float64Array {
  const probabilities = new Float64Array(count * NUM_CLASSES)
  for (let i = 0; i < count; i++) {
    const offset = i * NUM_CLASSES
    let max = -Infinity
    for (let k = 0; k < NUM_CLASSES; k++) max = Math.max(max, logits[offset + k])
    let sum = 0
    for (let k = 0; k < NUM_CLASSES; k++) {
      probabilities[offset + k] = Math.exp(logits[offset + k] - max)
      sum += probabilities[offset + k]
    }
    for (let k = 0; k < NUM_CLASSES; k++) probabilities[offset + k] /= sum
  }
  return probabilities
}

/**
 * The `k` highest classes of each row of [count, 10] scores as Triton's classification extension
 * writes them: "<value>:<index>", value with six decimals (C++'s std::to_string), highest first
 * (ties: lower index first). `k` is capped at 10. Rows after rows: [count, min(k, 10)].
 */
export function topClasses(scores: ArrayLike<number>, count: number, k: number): string[] {
  const kept = Math.min(k, NUM_CLASSES)
  const classes: string[] = []
  const order = Array.from({length: NUM_CLASSES}, (_, index) => index)
  for (let i = 0; i < count; i++) {
    const offset = i * NUM_CLASSES
    order.sort((a, b) => scores[offset + b] - scores[offset + a] || a - b)
    for (let rank = 0; rank < kept; rank++) classes.push(`${scores[offset + order[rank]].toFixed(6)}:${order[rank]}`)
  }
  return classes
}

import {NUM_CLASSES} from '../core/image.js'

/** counts[trueLabel][predictedLabel]. */
export type ConfusionMatrix = number[][]

export interface ClassMetrics {
  digit: number
  /** Test images of this digit. */
  support: number
  /** Images predicted as this digit. */
  predicted: number
  /** null when nothing was predicted as this digit (0/0). */
  precision: number | null
  /** null when the digit does not occur in the data (0/0). */
  recall: number | null
  /** 2·tp / (2·tp + fp + fn); null only when the digit neither occurs nor is predicted. */
  f1: number | null
}

export interface ConfusedPair {
  trueLabel: number
  predictedLabel: number
  count: number
}

export function emptyConfusionMatrix(classes = NUM_CLASSES): ConfusionMatrix {
  return Array.from({length: classes}, () => new Array<number>(classes).fill(0))
}

export function addToConfusionMatrix(matrix: ConfusionMatrix, labels: ArrayLike<number>, predictions: ArrayLike<number>): void {
  if (labels.length !== predictions.length) throw new RangeError(`${labels.length} labels but ${predictions.length} predictions`)
  for (let i = 0; i < labels.length; i++) matrix[labels[i]][predictions[i]]++
}

export function confusionMatrixOf(labels: ArrayLike<number>, predictions: ArrayLike<number>, classes = NUM_CLASSES): ConfusionMatrix {
  const matrix = emptyConfusionMatrix(classes)
  addToConfusionMatrix(matrix, labels, predictions)
  return matrix
}

export function totalOf(matrix: ConfusionMatrix): number {
  return matrix.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0)
}

export function correctOf(matrix: ConfusionMatrix): number {
  return matrix.reduce((sum, row, digit) => sum + row[digit], 0)
}

/** Fraction of images on the diagonal; 0 for an empty matrix. */
export function accuracyOf(matrix: ConfusionMatrix): number {
  const total = totalOf(matrix)
  return total === 0 ? 0 : correctOf(matrix) / total
}

export function perClassMetrics(matrix: ConfusionMatrix): ClassMetrics[] {
  return matrix.map((row, digit) => {
    const truePositives = row[digit]
    const support = row.reduce((a, b) => a + b, 0)
    const predicted = matrix.reduce((sum, other) => sum + other[digit], 0)
    const falsePositives = predicted - truePositives
    const falseNegatives = support - truePositives
    const f1Denominator = 2 * truePositives + falsePositives + falseNegatives
    return {
      digit,
      support,
      predicted,
      precision: predicted === 0 ? null : truePositives / predicted,
      recall: support === 0 ? null : truePositives / support,
      f1: f1Denominator === 0 ? null : (2 * truePositives) / f1Denominator,
    }
  })
}

/** Off-diagonal cells by count, largest first (ties: by true, then predicted label), zeros left out. */
export function mostConfusedPairs(matrix: ConfusionMatrix, limit: number): ConfusedPair[] {
  const pairs: ConfusedPair[] = []
  matrix.forEach((row, trueLabel) =>
    row.forEach((count, predictedLabel) => {
      if (trueLabel !== predictedLabel && count > 0) pairs.push({trueLabel, predictedLabel, count})
    }),
  )
  pairs.sort((a, b) => b.count - a.count || a.trueLabel - b.trueLabel || a.predictedLabel - b.predictedLabel)
  return pairs.slice(0, limit)
}

import {describe, expect, it} from 'vitest'

import {accuracyOf, confusionMatrixOf, mostConfusedPairs, perClassMetrics} from '../../src/lib/evaluation/metrics.js'

describe('evaluation metrics on hand-made predictions', () => {
  // Digits 0–3 only; 3 is never the true label, 2 is never predicted.
  const labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
  const predictions = [0, 0, 0, 1, 1, 1, 0, 1, 1, 3]
  const matrix = confusionMatrixOf(labels, predictions, 4)

  it('counts true labels by row and predictions by column', () => {
    expect(matrix).toEqual([
      [3, 1, 0, 0],
      [1, 2, 0, 0],
      [0, 2, 0, 1],
      [0, 0, 0, 0],
    ])
    expect(accuracyOf(matrix)).toBe(0.5)
  })

  it('gives precision, recall and F1 per class, with null where a ratio is 0/0', () => {
    const metrics = perClassMetrics(matrix)
    expect(metrics[0]).toEqual({digit: 0, support: 4, predicted: 4, precision: 0.75, recall: 0.75, f1: 0.75})
    expect(metrics[1]).toEqual({digit: 1, support: 3, predicted: 5, precision: 0.4, recall: 2 / 3, f1: 0.5})
    // Occurs but never predicted: precision undefined, recall and F1 are 0.
    expect(metrics[2]).toEqual({digit: 2, support: 3, predicted: 0, precision: null, recall: 0, f1: 0})
    // Predicted but never occurs: recall undefined, precision and F1 are 0.
    expect(metrics[3]).toEqual({digit: 3, support: 0, predicted: 1, precision: 0, recall: null, f1: 0})
  })

  it('gives null everywhere for a class that neither occurs nor is predicted', () => {
    const [, absent] = perClassMetrics(confusionMatrixOf([0, 0], [0, 0], 2))
    expect(absent).toEqual({digit: 1, support: 0, predicted: 0, precision: null, recall: null, f1: null})
  })

  it('ranks the most confused pairs by count, leaving out the diagonal and zeros', () => {
    expect(mostConfusedPairs(matrix, 10)).toEqual([
      {trueLabel: 2, predictedLabel: 1, count: 2},
      {trueLabel: 0, predictedLabel: 1, count: 1},
      {trueLabel: 1, predictedLabel: 0, count: 1},
      {trueLabel: 2, predictedLabel: 3, count: 1},
    ])
    expect(mostConfusedPairs(matrix, 1)).toEqual([{trueLabel: 2, predictedLabel: 1, count: 2}])
  })

  it('scores an empty matrix as accuracy 0 rather than NaN', () => {
    expect(accuracyOf(confusionMatrixOf([], []))).toBe(0)
  })
})

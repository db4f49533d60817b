import {describe, expect, it} from 'vitest'

import {orthogonalRows} from '../../src/lib/model/weights.js'

describe('the recurrent kernel initialiser', () => {
  it('gives orthonormal rows, reproducibly for a seed', () => {
    const rows = 16
    const cols = 64
    const matrix = orthogonalRows(rows, cols, 5)
    for (let a = 0; a < rows; a++) {
      for (let b = 0; b < rows; b++) {
        let dot = 0
        for (let i = 0; i < cols; i++) dot += matrix[a * cols + i] * matrix[b * cols + i]
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 5)
      }
    }
    expect(Array.from(orthogonalRows(rows, cols, 5))).toEqual(Array.from(matrix))
    expect(Array.from(orthogonalRows(rows, cols, 6))).not.toEqual(Array.from(matrix))
  })
})

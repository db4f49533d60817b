/**
 * Keras's LSTM weights in ONNX's layout.
 *
 * Keras (and this toolkit's checkpoints): kernel [input, 4·H], recurrent kernel [H, 4·H], bias [4·H],
 * the 4·H axis holding the gates in the order i, f, c, o; the step computes x·kernel + h·recurrent + bias.
 * ONNX `LSTM` (num_directions = 1): W [1, 4·H, input], R [1, 4·H, H], B [1, 8·H] = [Wb, Rb], gates in
 * the order i, o, f, c; the step computes x·Wᵀ + h·Rᵀ + Wb + Rb. So W and R are the Keras matrices
 * transposed with their gate blocks reordered, Wb is the reordered Keras bias and Rb is zero.
 */

/** For each ONNX gate block (i, o, f, c), the index of the same gate in Keras's order (i, f, c, o). */
export const KERAS_GATE_OF_ONNX_GATE = [0, 3, 1, 2] as const

const GATES = 4

export interface OnnxLstmWeights {
  /** [1, 4·H, input] */
  W: Float32Array
  /** [1, 4·H, H] */
  R: Float32Array
  /** [1, 8·H]: Wb then Rb (zeros) */
  B: Float32Array
}

/**
 * A Keras [rows, 4·H] matrix as ONNX's [4·H, rows]: transposed, gate blocks reordered.
 * ONNX row g·H + h is Keras column KERAS_GATE_OF_ONNX_GATE[g]·H + h.
 */
export function onnxGateRows(kerasMatrix: Float32Array, rows: number, hidden: number): Float32Array {
  const width = GATES * hidden
  if (kerasMatrix.length !== rows * width) throw new Error(`expected a [${rows}, ${width}] matrix, got ${kerasMatrix.length} values`)
  const out = new Float32Array(width * rows)
  KERAS_GATE_OF_ONNX_GATE.forEach((kerasGate, onnxGate) => {
    for (let unit = 0; unit < hidden; unit++) {
      const kerasColumn = kerasGate * hidden + unit
      const onnxRow = (onnxGate * hidden + unit) * rows
      for (let row = 0; row < rows; row++) out[onnxRow + row] = kerasMatrix[row * width + kerasColumn]
    }
  })
  return out
}

/** The Keras [4·H] bias in ONNX's gate order. */
export function onnxGateBias(kerasBias: Float32Array, hidden: number): Float32Array {
  if (kerasBias.length !== GATES * hidden) throw new Error(`expected a bias of ${GATES * hidden} values, got ${kerasBias.length}`)
  const out = new Float32Array(GATES * hidden)
  KERAS_GATE_OF_ONNX_GATE.forEach((kerasGate, onnxGate) => out.set(kerasBias.subarray(kerasGate * hidden, (kerasGate + 1) * hidden), onnxGate * hidden))
  return out
}

export function onnxLstmWeights(
  keras: {kernel: Float32Array; recurrentKernel: Float32Array; bias: Float32Array},
  inputSize: number,
  hidden: number,
): OnnxLstmWeights {
  const B = new Float32Array(2 * GATES * hidden)
  B.set(onnxGateBias(keras.bias, hidden))
  return {W: onnxGateRows(keras.kernel, inputSize, hidden), R: onnxGateRows(keras.recurrentKernel, hidden, hidden), B}
}

import * as tf from '@tensorflow/tfjs'

import {ArrayPool} from './array-pool.js'
import {lazyGradientOp} from './lazy-gradient.js'
import type {LstmLastHidden} from './lstm-signature.js'
import {withMatrixOps} from './matrix-ops.js'

/**
 * A Keras-layout LSTM for backends whose tensor reads are cheap synchronous copies (wasm, cpu).
 *
 * The backend does what it is fast at, matrix products and vectorised sigmoids; the rest of the
 * gate arithmetic runs in plain loops over Float32Arrays, where a pass over a step's values costs
 * less than launching one elementwise kernel on wasm (and slicing gates out of a tensor costs a
 * copy per slice). Per time step the forward pass launches two kernels (a matmul with a fused
 * sigmoid giving all four gates, and a sigmoid giving tanh of the cell state) and the backward pass
 * one matmul; the weight gradients of all time steps come from a single matmul at the end.
 *
 * Identities used:
 *   tanh(z) = 2·sigmoid(2z) − 1   (the cell candidate's weight columns are doubled, which is exact)
 *   [x_t, h_{t−1}, 1]·[W; U; b]   (the bias rides along the matmul as a row of weights)
 */

const GATES = 4
/** Position of the cell candidate among the Keras gates i, f, c, o. */
const CELL_GATE = 2

/**
 * Scratch and trace arrays, reused from one pass to the next. An array goes back once its last
 * reader is done: the forward pass's scratch at its end, the trace in backpropagate and
 * weightGradients (each runs at most once per trace). Arrays that become tensors never go back:
 * the cpu backend keeps the array it is given.
 */
const pool = new ArrayPool()

interface Dims {
  batch: number
  time: number
  features: number
  units: number
}

/** Length of a step-input row: x_t, h_{t−1} and a constant 1 that multiplies the bias. */
function rowLengthOf({features, units}: Dims): number {
  return features + units + 1
}

/** What the backward pass needs from the forward pass, kept in plain arrays. */
interface Trace {
  dims: Dims
  /** [time·batch, rowLength], rows ordered (step, example): every step's input rows. */
  stepInputs: Float32Array
  /** [time, batch, 4·units]: gate activations i, f, g (the tanh candidate), o. */
  gates: Float32Array
  /** [time + 1, batch, units]: cell states c_{−1} = 0, c_0, …, c_{time−1}. */
  cells: Float32Array
  /** [time, batch, units]: tanh(c_t). */
  cellTanh: Float32Array
  kernel: Float32Array
  recurrentKernel: Float32Array
}

interface ForwardResult {
  lastHidden: Float32Array
  trace?: Trace
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    const rowStart = r * cols
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[rowStart + c]
  }
  return out
}

/** [W; U; b] as one [rowLength, 4·units] matrix, with the cell candidate's columns doubled. */
function stepWeights(kernel: Float32Array, recurrentKernel: Float32Array, bias: Float32Array, dims: Dims): Float32Array {
  const {features, units} = dims
  const width = GATES * units
  const rowLength = rowLengthOf(dims)
  const combined = new Float32Array(rowLength * width)
  combined.set(kernel, 0)
  combined.set(recurrentKernel, features * width)
  combined.set(bias, (features + units) * width)
  const candidateStart = CELL_GATE * units
  for (let row = 0; row < rowLength; row++) {
    const start = row * width + candidateStart
    for (let j = 0; j < units; j++) combined[start + j] *= 2
  }
  return combined
}

/** Every step's input rows with x_t and the constant 1 filled in, and h_{−1} = 0. */
function stepInputsFor(x: Float32Array, dims: Dims): Float32Array {
  const {batch, time, features} = dims
  const rowLength = rowLengthOf(dims)
  const stepInputs = pool.take(time * batch * rowLength)
  stepInputs.fill(0, 0, batch * rowLength)
  for (let t = 0; t < time; t++) {
    for (let b = 0; b < batch; b++) {
      const row = (t * batch + b) * rowLength
      const source = (b * time + t) * features
      stepInputs.set(x.subarray(source, source + features), row)
      stepInputs[row + rowLength - 1] = 1
    }
  }
  return stepInputs
}

/**
 * From the gate sigmoids s of one step (candidate column holding (g + 1)/2): turns that column into
 * g, computes the new cell state into cell and its double into doubledCell.
 */
function updateCells(s: Float32Array, previousCell: Float32Array, cell: Float32Array, doubledCell: Float32Array, batch: number, units: number): void {
  const width = GATES * units
  for (let b = 0; b < batch; b++) {
    const gateRow = b * width
    const unitRow = b * units
    for (let j = 0; j < units; j++) {
      const n = unitRow + j
      const candidate = gateRow + CELL_GATE * units + j
      const g = 2 * s[candidate] - 1
      s[candidate] = g
      const c = s[gateRow + units + j] * previousCell[n] + s[gateRow + j] * g
      cell[n] = c
      doubledCell[n] = 2 * c
    }
  }
}

/** Turns sigmoid(2c) into tanh(c) in place and writes h = o·tanh(c) into rows of `hidden` (row stride given). */
function updateHidden(
  s: Float32Array,
  cellTanh: Float32Array,
  hidden: Float32Array,
  hiddenStart: number,
  hiddenStride: number,
  batch: number,
  units: number,
): void {
  const width = GATES * units
  for (let b = 0; b < batch; b++) {
    const outputGate = b * width + 3 * units
    const unitRow = b * units
    const hiddenRow = hiddenStart + b * hiddenStride
    for (let j = 0; j < units; j++) {
      const tc = 2 * cellTanh[unitRow + j] - 1
      cellTanh[unitRow + j] = tc
      hidden[hiddenRow + j] = s[outputGate + j] * tc
    }
  }
}

function runForward(
  inputs: tf.Tensor3D,
  kernel: tf.Tensor,
  recurrentKernel: tf.Tensor,
  bias: tf.Tensor,
  keepTrace: boolean,
): ForwardResult {
  const [batch, time, features] = inputs.shape
  const units = recurrentKernel.shape[0]
  const dims: Dims = {batch, time, features, units}
  const width = GATES * units
  const rowLength = rowLengthOf(dims)
  const stepSize = batch * rowLength
  const gateSize = batch * width
  const cellSize = batch * units

  const w = kernel.dataSync() as Float32Array
  const u = recurrentKernel.dataSync() as Float32Array
  const stepInputs = stepInputsFor(inputs.dataSync() as Float32Array, dims)
  // With a trace every step keeps its own slice; without, one step's worth is reused.
  const steps = keepTrace ? time : 1
  const gates = pool.take(steps * gateSize)
  const cells = pool.take((steps + 1) * cellSize)
  cells.fill(0, 0, cellSize)
  const cellTanh = pool.take(steps * cellSize)
  const doubledCell = pool.take(cellSize)
  const lastHidden = new Float32Array(cellSize)

  withMatrixOps((ops) => {
    const weights = ops.constant(stepWeights(w, u, bias.dataSync() as Float32Array, dims), rowLength, width)
    for (let t = 0; t < time; t++) {
      const slot = keepTrace ? t : 0
      const s = gates.subarray(slot * gateSize, (slot + 1) * gateSize)
      const previousCell = cells.subarray(slot * cellSize, (slot + 1) * cellSize)
      const cell = cells.subarray((slot + 1) * cellSize, (slot + 2) * cellSize)
      const tanhOfCell = cellTanh.subarray(slot * cellSize, (slot + 1) * cellSize)
      ops.matMul(s, stepInputs.subarray(t * stepSize, (t + 1) * stepSize), batch, weights, true)
      updateCells(s, previousCell, cell, doubledCell, batch, units)
      ops.sigmoid(tanhOfCell, doubledCell)
      if (t === time - 1) updateHidden(s, tanhOfCell, lastHidden, 0, units, batch, units)
      else updateHidden(s, tanhOfCell, stepInputs, (t + 1) * stepSize + features, rowLength, batch, units)
      if (!keepTrace) previousCell.set(cell)
    }
  })
  pool.give(doubledCell)
  if (!keepTrace) {
    pool.give(stepInputs, gates, cells, cellTanh)
    return {lastHidden}
  }
  return {lastHidden, trace: {dims, stepInputs, gates, cells, cellTanh, kernel: w, recurrentKernel: u}}
}

/**
 * One step back through the cell: from dh and dc (gradients at h_t and c_t; dc is updated in place
 * to the gradient at c_{t−1}) to dz, the gradient at the step's gate pre-activations, written both
 * as [batch, 4·units] rows and into columns column… of dZT [4·units, stride].
 */
function cellBackward(
  s: Float32Array,
  previousCell: Float32Array,
  tanhOfCell: Float32Array,
  dh: Float32Array,
  dc: Float32Array,
  dz: Float32Array,
  dZT: Float32Array,
  column: number,
  stride: number,
  batch: number,
  units: number,
): void {
  const width = GATES * units
  const gateStride = units * stride
  for (let b = 0; b < batch; b++) {
    const gateRow = b * width
    const unitRow = b * units
    let target = column + b
    for (let j = 0; j < units; j++, target += stride) {
      const n = unitRow + j
      const i = s[gateRow + j]
      const f = s[gateRow + units + j]
      const g = s[gateRow + 2 * units + j]
      const o = s[gateRow + 3 * units + j]
      const tc = tanhOfCell[n]
      const dhn = dh[n]
      const dcn = dc[n] + dhn * o * (1 - tc * tc)
      const di = dcn * g * i * (1 - i)
      const df = dcn * previousCell[n] * f * (1 - f)
      const dg = dcn * i * (1 - g * g)
      const dout = dhn * tc * o * (1 - o)
      const out = gateRow + j
      dz[out] = di
      dz[out + units] = df
      dz[out + 2 * units] = dg
      dz[out + 3 * units] = dout
      dZT[target] = di
      dZT[target + gateStride] = df
      dZT[target + 2 * gateStride] = dg
      dZT[target + 3 * gateStride] = dout
      dc[n] = dcn * f
    }
  }
}

/**
 * Backpropagation through time down to the gate pre-activations of every step:
 * dZᵀ [4·units, time·batch], columns ordered (step, example), the layout the weight gradient's
 * matmul takes as its left operand.
 */
function backpropagate(trace: Trace, dLastHidden: tf.Tensor): Float32Array {
  const {dims, gates, cells, cellTanh} = trace
  const {batch, time, units} = dims
  const width = GATES * units
  const gateSize = batch * width
  const cellSize = batch * units
  const stepRows = batch * time
  const dZT = pool.take(time * gateSize)
  const dz = pool.take(gateSize)
  const dh = pool.take(cellSize)
  dh.set(dLastHidden.dataSync() as Float32Array)
  const dc = pool.take(cellSize)
  dc.fill(0)
  withMatrixOps((ops) => {
    const recurrentT = ops.constant(transpose(trace.recurrentKernel, units, width), width, units)
    for (let t = time - 1; t >= 0; t--) {
      cellBackward(
        gates.subarray(t * gateSize, (t + 1) * gateSize),
        cells.subarray(t * cellSize, (t + 1) * cellSize),
        cellTanh.subarray(t * cellSize, (t + 1) * cellSize),
        dh,
        dc,
        dz,
        dZT,
        t * batch,
        stepRows,
        batch,
        units,
      )
      if (t > 0) ops.matMul(dh, dz, batch, recurrentT)
    }
  })
  pool.give(gates, cells, cellTanh, dz, dh, dc)
  return dZT
}

/** [dKernel; dRecurrentKernel; dBias] as one [rowLength, 4·units] array: [x, h, 1]ᵀ·dZ over all steps. */
function weightGradients(trace: Trace, dZT: Float32Array): Float32Array {
  const {dims, stepInputs} = trace
  const width = GATES * dims.units
  const rowLength = rowLengthOf(dims)
  const stepRows = dims.batch * dims.time
  const transposed = pool.take(width * rowLength)
  if (stepRows === 0) {
    // XNNPACK rejects a product over zero rows; an empty batch has zero gradients.
    transposed.fill(0)
  } else {
    withMatrixOps((ops) => {
      // dZᵀ·[x, h, 1] rather than [x, h, 1]ᵀ·dZ: the wasm matmul repacks its right operand on
      // every call, and the step inputs are a third the size of dZ.
      ops.matMul(transposed, dZT, width, ops.constant(stepInputs, stepRows, rowLength))
    })
  }
  pool.give(stepInputs)
  const gradients = transpose(transposed, width, rowLength)
  pool.give(transposed)
  return gradients
}

/** Rarely wanted (training differentiates with respect to the weights only), so simple over fast. */
function inputGradient(trace: Trace, dZT: Float32Array): tf.Tensor3D {
  const {batch, time, features, units} = trace.dims
  const width = GATES * units
  const stepRows = batch * time
  const transposed = new Float32Array(features * stepRows)
  if (stepRows > 0) {
    withMatrixOps((ops) => {
      ops.matMul(transposed, ops.constant(trace.kernel, features, width), features, ops.constant(dZT, width, stepRows))
    })
  }
  // Columns are ordered (step, example); inputs are [example, step, feature].
  const dx = new Float32Array(batch * time * features)
  for (let f = 0; f < features; f++) {
    for (let t = 0; t < time; t++) {
      for (let b = 0; b < batch; b++) dx[(b * time + t) * features + f] = transposed[f * stepRows + t * batch + b]
    }
  }
  return tf.tensor3d(dx, [batch, time, features])
}

function once<T>(fn: () => T): () => T {
  let done = false
  let value: T
  return () => {
    if (!done) {
      value = fn()
      done = true
    }
    return value
  }
}

/**
 * The last hidden state [batch, units] of the LSTM over inputs [batch, time, features].
 * Under a gradient tape it records a single op whose gradients are computed by hand, each only if
 * asked for (training needs the weights', not the images').
 */
export const hybridLstmLastHidden: LstmLastHidden = (inputs, kernel, recurrentKernel, bias) => {
  const [batch] = inputs.shape
  const units = recurrentKernel.shape[0]
  if (!tf.engine().isTapeOn()) {
    return tf.tensor2d(runForward(inputs, kernel, recurrentKernel, bias, false).lastHidden, [batch, units])
  }
  let trace: Trace | undefined
  return lazyGradientOp(
    {inputs, kernel, recurrentKernel, bias},
    () => {
      const result = runForward(inputs, kernel, recurrentKernel, bias, true)
      trace = result.trace
      return tf.tensor2d(result.lastHidden, [batch, units])
    },
    (dy) => {
      const recorded = trace!
      const dZT = once(() => backpropagate(recorded, dy))
      // The engine asks for input gradients in the order of the inputs below, so once the weights'
      // have been computed the images' is done or not wanted: dZᵀ can go back to the pool.
      let released = false
      const weights = once(() => {
        const gradients = weightGradients(recorded, dZT())
        pool.give(dZT())
        released = true
        return gradients
      })
      const {features} = recorded.dims
      const width = GATES * units
      return {
        inputs: () => {
          if (released) throw new Error('hybrid LSTM: the images\' gradient was asked for after the weights\'')
          return inputGradient(recorded, dZT())
        },
        kernel: () => tf.tensor2d(weights().slice(0, features * width), [features, width]),
        recurrentKernel: () => tf.tensor2d(weights().slice(features * width, (features + units) * width), [units, width]),
        bias: () => tf.tensor1d(weights().slice((features + units) * width)),
      }
    },
  ) as tf.Tensor2D
}

import * as tf from '@tensorflow/tfjs'

/**
 * The few matrix operations the hybrid LSTM asks of a backend, on row-major Float32Arrays that the
 * caller owns. Two implementations: plain tf ops (any backend), and direct calls of the wasm
 * backend's kernels, which skip the engine's per-op bookkeeping and the allocation of a fresh array
 * per read: measured 0.4-0.6 ms per call, and a training step makes ~80 of them.
 */
export interface MatrixOps {
  /** A matrix copied to the backend once and used as the right operand of many products. */
  constant(values: Float32Array, rows: number, cols: number): ConstantMatrix
  /** out = a·b, or sigmoid(a·b): a is [rows, b.rows], out is [rows, b.cols]. */
  matMul(out: Float32Array, a: Float32Array | ConstantMatrix, rows: number, b: ConstantMatrix, sigmoid?: boolean): void
  /** out = sigmoid(x), elementwise. */
  sigmoid(out: Float32Array, x: Float32Array): void
  /** Frees every constant and buffer; the instance is not used afterwards. */
  dispose(): void
}

/** Never changed after creation: the wasm matmul caches the packed form of its right operand by identity. */
export interface ConstantMatrix {
  readonly rows: number
  readonly cols: number
}

/** Runs fn with matrix operations for the active backend and frees them afterwards. */
export function withMatrixOps<T>(fn: (ops: MatrixOps) => T): T {
  const ops = tf.getBackend() === 'wasm' && hasWasmInternals(tf.backend()) ? new WasmMatrixOps() : new TensorMatrixOps()
  try {
    return fn(ops)
  } finally {
    ops.dispose()
  }
}

class TensorConstant implements ConstantMatrix {
  constructor(
    readonly tensor: tf.Tensor2D,
    readonly rows: number,
    readonly cols: number,
  ) {}
}

/** Any backend, through tf ops. */
class TensorMatrixOps implements MatrixOps {
  private readonly constants: tf.Tensor[] = []

  constant(values: Float32Array, rows: number, cols: number): ConstantMatrix {
    const tensor = tf.tensor2d(values, [rows, cols])
    this.constants.push(tensor)
    return new TensorConstant(tensor, rows, cols)
  }

  matMul(out: Float32Array, a: Float32Array | ConstantMatrix, rows: number, b: ConstantMatrix, sigmoid = false): void {
    const right = (b as TensorConstant).tensor
    const result = tf.tidy(() => {
      const left = a instanceof Float32Array ? tf.tensor2d(a, [rows, right.shape[0]]) : (a as TensorConstant).tensor
      return sigmoid ? tf.sigmoid(tf.matMul(left, right)) : tf.matMul(left, right)
    })
    out.set(result.dataSync() as Float32Array)
    result.dispose()
  }

  sigmoid(out: Float32Array, x: Float32Array): void {
    const result = tf.tidy(() => tf.sigmoid(tf.tensor1d(x)))
    out.set(result.dataSync() as Float32Array)
    result.dispose()
  }

  dispose(): void {
    for (const tensor of this.constants) tensor.dispose()
  }
}

/** The parts of tfjs-backend-wasm's BackendWasm used here (they are public on the class, untyped in tfjs-core). */
interface WasmBackend {
  wasm: {HEAPF32: Float32Array; wasmMemory?: {buffer: ArrayBufferLike}}
  dataIdMap: {get(dataId: object): {memoryOffset: number}}
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo
  disposeData(dataId: object): boolean
}

type KernelFunc = tf.KernelConfig['kernelFunc']

/** Another tfjs-backend-wasm version may lay out its internals differently: then tf ops are used. */
function hasWasmInternals(backend: unknown): backend is WasmBackend {
  const candidate = backend as Partial<WasmBackend>
  return (
    candidate.wasm?.HEAPF32 instanceof Float32Array &&
    typeof candidate.dataIdMap?.get === 'function' &&
    typeof candidate.makeOutput === 'function' &&
    typeof candidate.disposeData === 'function' &&
    tf.getKernel('_FusedMatMul', 'wasm') !== undefined &&
    tf.getKernel('Sigmoid', 'wasm') !== undefined
  )
}

/** A backend buffer holding a [1, rows, cols] matrix: the kernels take rank-3 matmul operands. */
class WasmMatrix implements ConstantMatrix {
  constructor(
    readonly info: tf.TensorInfo,
    readonly rows: number,
    readonly cols: number,
  ) {}
}

/**
 * The wasm backend's _FusedMatMul and Sigmoid kernels called directly on buffers this class
 * allocates in the module's memory: inputs are copied in with one memcpy, outputs read through a
 * view, and kernel outputs freed as soon as they are read. Nothing here is seen by the engine.
 */
class WasmMatrixOps implements MatrixOps {
  private readonly backend = tf.backend() as unknown as WasmBackend
  private readonly fusedMatMul: KernelFunc = kernel('_FusedMatMul')
  private readonly sigmoidKernel: KernelFunc = kernel('Sigmoid')
  private readonly owned: WasmMatrix[] = []
  /** Input buffers by size, reused across calls (left operands are not cached by the kernels). */
  private readonly staging = new Map<number, WasmMatrix>()

  constant(values: Float32Array, rows: number, cols: number): ConstantMatrix {
    const matrix = this.allocate(rows, cols)
    this.write(matrix, values)
    return matrix
  }

  matMul(out: Float32Array, a: Float32Array | ConstantMatrix, rows: number, b: ConstantMatrix, sigmoid = false): void {
    const right = b as WasmMatrix
    const left = a instanceof Float32Array ? this.stage(a, rows, right.rows) : (a as WasmMatrix)
    const result = this.fusedMatMul({
      inputs: {a: left.info, b: right.info},
      backend: this.backend as unknown as tf.KernelBackend,
      attrs: {transposeA: false, transposeB: false, activation: sigmoid ? 'sigmoid' : 'linear', leakyreluAlpha: 0},
    }) as tf.TensorInfo
    this.readAndFree(out, result)
  }

  sigmoid(out: Float32Array, x: Float32Array): void {
    const input = this.stage(x, 1, x.length)
    const result = this.sigmoidKernel({inputs: {x: input.info}, backend: this.backend as unknown as tf.KernelBackend, attrs: {}}) as tf.TensorInfo
    this.readAndFree(out, result)
  }

  dispose(): void {
    for (const matrix of this.owned) this.backend.disposeData(matrix.info.dataId)
    this.owned.length = 0
    this.staging.clear()
  }

  private allocate(rows: number, cols: number): WasmMatrix {
    const matrix = new WasmMatrix(this.backend.makeOutput([1, rows, cols], 'float32'), rows, cols)
    this.owned.push(matrix)
    return matrix
  }

  private stage(values: Float32Array, rows: number, cols: number): WasmMatrix {
    let buffer = this.staging.get(values.length)
    if (!buffer) {
      buffer = this.allocate(rows, cols)
      this.staging.set(values.length, buffer)
    }
    const shaped = buffer.rows === rows ? buffer : new WasmMatrix({...buffer.info, shape: [1, rows, cols]}, rows, cols)
    this.write(shaped, values)
    return shaped
  }

  /**
   * The module's memory as floats. Memory growth replaces the buffer; the glue refreshes HEAPF32
   * for growth on this thread, and the threaded build exposes the memory to check against.
   */
  private heap(): Float32Array {
    const {wasm} = this.backend
    const memory = wasm.wasmMemory
    if (memory && wasm.HEAPF32.buffer !== memory.buffer) return new Float32Array(memory.buffer)
    return wasm.HEAPF32
  }

  private offsetOf(info: tf.TensorInfo): number {
    return this.backend.dataIdMap.get(info.dataId).memoryOffset / Float32Array.BYTES_PER_ELEMENT
  }

  private write(matrix: WasmMatrix, values: Float32Array): void {
    this.heap().set(values, this.offsetOf(matrix.info))
  }

  private readAndFree(out: Float32Array, result: tf.TensorInfo): void {
    const start = this.offsetOf(result)
    out.set(this.heap().subarray(start, start + out.length))
    this.backend.disposeData(result.dataId)
  }
}

function kernel(name: string): KernelFunc {
  const config = tf.getKernel(name, 'wasm')
  if (!config) throw new Error(`the wasm backend has no ${name} kernel`)
  return config.kernelFunc
}

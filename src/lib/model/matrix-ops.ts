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

/**
 * The parts of tfjs-backend-wasm's BackendWasm used here (public on the class, untyped in
 * tfjs-core): its emscripten module's exports and its tensor bookkeeping.
 */
interface WasmBackend {
  wasm: {
    HEAPF32: Float32Array
    HEAP32: Int32Array
    /** Exposed by the threaded build, whose memory can grow from another thread. */
    wasmMemory?: {buffer: ArrayBufferLike}
    _malloc(bytes: number): number
    _free(pointer: number): void
    /** The kernel behind _FusedMatMul (cc/kernels/FusedBatchMatMul.cc). */
    __FusedMatMul(...args: number[]): void
    _Sigmoid(xId: number, outId: number): void
  }
  dataIdMap: {get(dataId: object): {id: number; memoryOffset: number}}
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo
  disposeData(dataId: object): boolean
}

/** Another tfjs-backend-wasm version may lay out its internals differently: then tf ops are used. */
function hasWasmInternals(backend: unknown): backend is WasmBackend {
  const candidate = backend as Partial<WasmBackend>
  const wasm = candidate.wasm
  return (
    wasm?.HEAPF32 instanceof Float32Array &&
    wasm.HEAP32 instanceof Int32Array &&
    typeof wasm._malloc === 'function' &&
    typeof wasm._free === 'function' &&
    typeof wasm.__FusedMatMul === 'function' &&
    typeof wasm._Sigmoid === 'function' &&
    typeof candidate.dataIdMap?.get === 'function' &&
    typeof candidate.makeOutput === 'function' &&
    typeof candidate.disposeData === 'function'
  )
}

/** tfjs-backend-wasm's FusableActivation (cc/fusable_activations.h). */
const ACTIVATION_LINEAR = 0
const ACTIVATION_SIGMOID = 5
/** Rank of the matmul operands the kernel takes: [batch = 1, rows, cols]. */
const MATMUL_RANK = 3
const INT32_BYTES = 4

/** A backend buffer holding a rows × cols matrix. */
class WasmMatrix implements ConstantMatrix {
  constructor(
    readonly info: tf.TensorInfo,
    readonly id: number,
    readonly rows: number,
    readonly cols: number,
  ) {}
}

/**
 * The wasm backend's matmul (with its fused sigmoid) and sigmoid kernels, called straight on
 * buffers this class allocates in the module's memory and reuses from call to call: inputs are
 * copied in with one memcpy, outputs read through a view. Nothing here is seen by the engine, and
 * nothing is allocated per call.
 */
class WasmMatrixOps implements MatrixOps {
  private readonly backend = tf.backend() as unknown as WasmBackend
  private readonly owned: WasmMatrix[] = []
  /** Left operands and sigmoid inputs by size (the kernels cache nothing about them). */
  private readonly staging = new Map<number, WasmMatrix>()
  /** Outputs by size: written afresh by every call. */
  private readonly outputs = new Map<number, WasmMatrix>()
  /** The two operand shapes, [1, rows, cols] each, as the kernel reads them. */
  private readonly shapes = this.backend.wasm._malloc(2 * MATMUL_RANK * INT32_BYTES)

  constant(values: Float32Array, rows: number, cols: number): ConstantMatrix {
    const matrix = this.allocate(rows, cols)
    this.heap().set(values, this.offsetOf(matrix))
    return matrix
  }

  matMul(out: Float32Array, a: Float32Array | ConstantMatrix, rows: number, b: ConstantMatrix, sigmoid = false): void {
    const right = b as WasmMatrix
    const left = a instanceof Float32Array ? this.stage(a) : (a as WasmMatrix)
    const result = this.output(rows * right.cols)
    const shapes = new Int32Array(this.memory(), this.shapes, 2 * MATMUL_RANK)
    shapes.set([1, rows, right.rows, 1, right.rows, right.cols])
    const activation = sigmoid ? ACTIVATION_SIGMOID : ACTIVATION_LINEAR
    const [aShape, bShape] = [this.shapes, this.shapes + MATMUL_RANK * INT32_BYTES]
    // (a, a shape, rank, b, b shape, rank, transposeA, transposeB, activation, bias, prelu weights, leaky-relu alpha, out)
    this.backend.wasm.__FusedMatMul(left.id, aShape, MATMUL_RANK, right.id, bShape, MATMUL_RANK, 0, 0, activation, 0, 0, 0, result.id)
    this.read(out, result)
  }

  sigmoid(out: Float32Array, x: Float32Array): void {
    const input = this.stage(x)
    const result = this.output(x.length)
    this.backend.wasm._Sigmoid(input.id, result.id)
    this.read(out, result)
  }

  dispose(): void {
    for (const matrix of this.owned) this.backend.disposeData(matrix.info.dataId)
    this.owned.length = 0
    this.staging.clear()
    this.outputs.clear()
    this.backend.wasm._free(this.shapes)
  }

  private allocate(rows: number, cols: number): WasmMatrix {
    const info = this.backend.makeOutput([rows, cols], 'float32')
    const matrix = new WasmMatrix(info, this.backend.dataIdMap.get(info.dataId).id, rows, cols)
    this.owned.push(matrix)
    return matrix
  }

  private stage(values: Float32Array): WasmMatrix {
    let buffer = this.staging.get(values.length)
    if (!buffer) {
      buffer = this.allocate(1, values.length)
      this.staging.set(values.length, buffer)
    }
    this.heap().set(values, this.offsetOf(buffer))
    return buffer
  }

  private output(size: number): WasmMatrix {
    let buffer = this.outputs.get(size)
    if (!buffer) {
      buffer = this.allocate(1, size)
      this.outputs.set(size, buffer)
    }
    return buffer
  }

  /**
   * The module's memory. Growth replaces the buffer; the glue refreshes its views for growth on
   * this thread, and the threaded build exposes the memory to check against.
   */
  private memory(): ArrayBufferLike {
    const {wasm} = this.backend
    return wasm.wasmMemory?.buffer ?? wasm.HEAPF32.buffer
  }

  private heap(): Float32Array {
    const {wasm} = this.backend
    const memory = this.memory()
    return wasm.HEAPF32.buffer === memory ? wasm.HEAPF32 : new Float32Array(memory)
  }

  private offsetOf(matrix: WasmMatrix): number {
    return this.backend.dataIdMap.get(matrix.info.dataId).memoryOffset / Float32Array.BYTES_PER_ELEMENT
  }

  private read(out: Float32Array, result: WasmMatrix): void {
    const start = this.offsetOf(result)
    out.set(this.heap().subarray(start, start + out.length))
  }
}

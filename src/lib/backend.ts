import * as tf from '@tensorflow/tfjs'
import {createRequire} from 'node:module'
import {availableParallelism} from 'node:os'
import type {Worker as NodeWorker, WorkerOptions} from 'node:worker_threads'
import {isMainThread} from 'node:worker_threads'

import {UserError, errorMessage} from './core/errors.js'

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const
export type BackendName = (typeof BACKEND_NAMES)[number]
export const BACKEND_CHOICES = ['auto', ...BACKEND_NAMES] as const
export type BackendChoice = (typeof BACKEND_CHOICES)[number]

export interface BackendProbe {
  name: BackendName
  loads: boolean
  /** Why it does not load, when it does not. */
  reason?: string
}

const TFJS_NODE_PACKAGE = '@tensorflow/tfjs-node'
const require = createRequire(import.meta.url)

let nativeLoadError: string | undefined
let wasmRegistered = false

/** Imports the optional native package once; afterwards the 'tensorflow' backend is registered. */
async function loadNativePackage(): Promise<string | undefined> {
  if (tf.findBackendFactory('tensorflow')) return undefined
  if (nativeLoadError !== undefined) return nativeLoadError
  try {
    require.resolve(TFJS_NODE_PACKAGE)
  } catch {
    nativeLoadError = `the optional package ${TFJS_NODE_PACKAGE} is not installed; its installer needs to download libtensorflow, which fails offline`
    return nativeLoadError
  }
  try {
    await import(TFJS_NODE_PACKAGE)
    return undefined
  } catch (error) {
    nativeLoadError = `${TFJS_NODE_PACKAGE} is installed but failed to load: ${firstLine(errorMessage(error))}`
    return nativeLoadError
  }
}

async function loadWasmPackage(): Promise<string | undefined> {
  if (wasmRegistered) return undefined
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm')
    wasmThreadsCount = wasm.getThreadsCount
    wasmThreads = configuredWasmThreads()
    if (wasmThreads > 1) {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)
      wasm.setThreadsCount(wasmThreads)
    }
    patchWasmTransposedMatMul()
    wasmRegistered = true
    return undefined
  } catch (error) {
    return `@tensorflow/tfjs-backend-wasm failed to load: ${firstLine(errorMessage(error))}`
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]
}

/** Tries to initialise a backend without leaving it active; returns why it fails, if it does. */
async function tryInitialise(name: BackendName): Promise<string | undefined> {
  const packageError = name === 'tensorflow' ? await loadNativePackage() : name === 'wasm' ? await loadWasmPackage() : undefined
  if (packageError) return packageError
  try {
    const ready = name === 'wasm' ? await setWasmBackend() : await tf.setBackend(name)
    if (!ready) return `${name}: the backend failed to initialise`
    return undefined
  } catch (error) {
    return `${name}: ${firstLine(errorMessage(error))}`
  }
}

/** Which backends load on this machine, and why the others do not. Leaves the first that loads active. */
export async function probeBackends(): Promise<BackendProbe[]> {
  const probes: BackendProbe[] = []
  for (const name of BACKEND_NAMES) {
    const reason = await tryInitialise(name)
    probes.push(reason ? {name, loads: false, reason} : {name, loads: true})
  }
  const first = probes.find((probe) => probe.loads)
  if (first) await tf.setBackend(first.name)
  return probes
}

/**
 * Activates the backend asked for. `auto` takes tensorflow if it loads, else wasm, else cpu.
 * A backend named explicitly that cannot load is a UserError saying why.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  if (choice !== 'auto') {
    const reason = await tryInitialise(choice)
    if (reason) throw new UserError(reason.startsWith(`${choice}:`) ? reason : `${choice}: ${reason}`)
    return choice
  }
  for (const name of BACKEND_NAMES) {
    if (!(await tryInitialise(name))) return name
  }
  throw new UserError('no TensorFlow.js backend could be initialised')
}

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0]
type KernelResult = ReturnType<tf.KernelConfig['kernelFunc']>

let stockWasmBatchMatMul: tf.KernelConfig | undefined
let patchedWasmBatchMatMul: tf.KernelConfig | undefined

/**
 * The wasm backend's BatchMatMul with transposeA/transposeB is about 10x slower than an explicit
 * Transpose followed by a plain matmul (the transposed operand defeats XNNPACK's fast path).
 * Every matmul gradient is transposed, so this patch speeds up training about 4x on wasm.
 */
function patchWasmTransposedMatMul(): void {
  const stock = tf.getKernel('BatchMatMul', 'wasm')
  if (!stock || stockWasmBatchMatMul) return
  stockWasmBatchMatMul = stock
  tf.unregisterKernel('BatchMatMul', 'wasm')
  patchedWasmBatchMatMul = {
    ...stock,
    kernelFunc: (args: KernelArgs): KernelResult => {
      const {transposeA, transposeB} = args.attrs as unknown as {transposeA: boolean; transposeB: boolean}
      if (!transposeA && !transposeB) return stock.kernelFunc(args)
      const transpose = tf.getKernel('Transpose', 'wasm')!
      const {a, b} = args.inputs as {a: tf.TensorInfo; b: tf.TensorInfo}
      const swapLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
        const perm = x.shape.map((_, axis) => axis)
        const rank = perm.length
        ;[perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]]
        return transpose.kernelFunc({inputs: {x}, backend: args.backend, attrs: {perm}}) as tf.TensorInfo
      }
      const aPlain = transposeA ? swapLastTwo(a) : a
      const bPlain = transposeB ? swapLastTwo(b) : b
      const result = stock.kernelFunc({
        ...args,
        inputs: {a: aPlain, b: bPlain},
        attrs: {...args.attrs, transposeA: false, transposeB: false},
      })
      const backend = args.backend as tf.KernelBackend
      if (aPlain !== a) backend.disposeData(aPlain.dataId)
      if (bPlain !== b) backend.disposeData(bPlain.dataId)
      return result
    },
  }
  tf.registerKernel(patchedWasmBatchMatMul)
}

/**
 * Turns the transposed-matmul fix off (stock kernel) or back on, e.g. to measure what it gains.
 * Kernels are looked up per call, so this takes effect at once.
 */
export function setWasmTransposedMatMulFix(enabled: boolean): void {
  if (!stockWasmBatchMatMul || !patchedWasmBatchMatMul) return
  tf.unregisterKernel('BatchMatMul', 'wasm')
  tf.registerKernel(enabled ? patchedWasmBatchMatMul : stockWasmBatchMatMul)
}

/** The unpatched wasm BatchMatMul kernel, for tests that compare it with the patch. */
export function stockWasmBatchMatMulKernel(): tf.KernelConfig | undefined {
  return stockWasmBatchMatMul
}

// ---------------------------------------------------------------------------------------------
// Multithreaded wasm in Node.
//
// tfjs-backend-wasm ships a build whose XNNPACK kernels run on a pool of threads (large matmuls 2×
// faster on 2 free cores), but never uses it in Node: WASM_HAS_MULTITHREAD_SUPPORT is hard-wired false there
// (tfjs issue 3830), and its emscripten glue would fail anyway: it starts each pthread worker from
// a blob: URL, which Node's Worker refuses, caps the pool at os.cpus().length / 2 threads (1 on a
// 2-core machine), and refs the worker of every running thread, so that the process would never
// exit. While the backend initialises, these are bridged: workers asked for a blob: URL run the
// worker script from source instead (the package ships it), are told to load the glue from its
// file, and never keep the process alive; os.cpus() reports enough cores. Node's own Worker and
// os.cpus are restored right after. If the threaded build still fails to start, the
// single-threaded one is used.
// ---------------------------------------------------------------------------------------------

/** Threads for the wasm backend's matmuls; 1 selects the single-threaded build. */
export const WASM_THREADS_ENV = 'MNIST_RNN_WASM_THREADS'
/**
 * Every kernel on the threaded build waits until each pool thread has checked in. When another
 * process keeps a core busy that wait can last a scheduler slice: measured on 2 busy cores, one
 * image took 28 ms instead of 2. So by default the pool is used only with 4 cores or more, on at
 * most half of them, leaving the rest for everything else; MNIST_RNN_WASM_THREADS overrides.
 */
const MIN_CORES_FOR_DEFAULT_THREADS = 4
/** The LSTM's per-step matmuls are ~20 MFLOP: split further, hand-offs cost more than they save. */
const MAX_DEFAULT_WASM_THREADS = 4

let wasmThreads = 1
let wasmThreadsCount: (() => number) | undefined

/** Threads the wasm backend's matmuls run on; 0 before it has initialised. */
export function wasmThreadsInUse(): number {
  return tf.findBackend('wasm') && wasmThreadsCount ? wasmThreadsCount() : 0
}

function configuredWasmThreads(): number {
  const configured = Number(process.env[WASM_THREADS_ENV])
  if (Number.isInteger(configured) && configured >= 1) return configured
  // Worker threads (the server's inference pool) are parallel already: one thread each.
  const cores = availableParallelism()
  if (!isMainThread || cores < MIN_CORES_FOR_DEFAULT_THREADS) return 1
  return Math.min(Math.floor(cores / 2), MAX_DEFAULT_WASM_THREADS)
}

async function setWasmBackend(): Promise<boolean> {
  if (wasmThreads <= 1 || tf.findBackend('wasm')) return tf.setBackend('wasm')
  const restore = bridgeWasmThreadsToNode(wasmThreads)
  let ready = false
  try {
    ready = await tf.setBackend('wasm')
  } catch {
    ready = false
  } finally {
    restore()
  }
  if (ready) return true
  wasmThreads = 1
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
  return tf.setBackend('wasm')
}

const WASM_THREADED_GLUE = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'
const WASM_THREADED_WORKER = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js'
/** The glue divides the logical core count by this before capping its thread pool. */
const GLUE_CORES_PER_THREAD = 2

/** Patches what the threaded glue needs from Node; returns the function that undoes it. */
function bridgeWasmThreadsToNode(threads: number): () => void {
  // The CommonJS module objects, whose properties the glue reads (ES module namespaces are frozen).
  const workerThreads = require('node:worker_threads') as {Worker: typeof NodeWorker}
  const os = require('node:os') as {cpus: typeof import('node:os').cpus}
  const {Worker: StockWorker} = workerThreads
  const stockCpus = os.cpus
  const gluePath = require.resolve(WASM_THREADED_GLUE)
  // A template literal in the shipped file: escape its newlines as the package itself does.
  const workerSource = (require(WASM_THREADED_WORKER) as {wasmWorkerContents: string}).wasmWorkerContents.replace(/\n/g, '\\n')

  class BlobUrlWorker extends StockWorker {
    constructor(filename: string | URL, options?: WorkerOptions) {
      if (typeof filename === 'string' && filename.startsWith('blob:')) super(workerSource, {...options, eval: true})
      else super(filename, options)
    }

    override postMessage(message: unknown, transferList?: Parameters<NodeWorker['postMessage']>[1]): void {
      const load = message as {cmd?: string; urlOrBlob?: unknown}
      // The glue sends its own source as a Blob, which the worker cannot read synchronously.
      if (load?.cmd === 'load' && typeof load.urlOrBlob !== 'string') message = {...load, urlOrBlob: gluePath}
      super.postMessage(message, transferList)
    }

    /** XNNPACK's pool threads run as long as the backend: a ref'd worker would keep the process from exiting. */
    override ref(): void {}
  }

  workerThreads.Worker = BlobUrlWorker
  os.cpus = () => {
    const cpus = stockCpus()
    while (cpus.length > 0 && cpus.length < GLUE_CORES_PER_THREAD * threads) cpus.push(cpus[0])
    return cpus
  }
  return () => {
    workerThreads.Worker = StockWorker
    os.cpus = stockCpus
  }
}

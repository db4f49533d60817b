import * as tf from '@tensorflow/tfjs'
import {createRequire} from 'node:module'

import {UserError, errorMessage} from './errors.js'

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
    await import('@tensorflow/tfjs-backend-wasm')
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
    const ready = await tf.setBackend(name)
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

export function activeBackend(): BackendName {
  return tf.getBackend() as BackendName
}

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0]
type KernelResult = ReturnType<tf.KernelConfig['kernelFunc']>

let stockWasmBatchMatMul: tf.KernelConfig | undefined

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
  tf.registerKernel({
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
  })
}

/** The unpatched wasm BatchMatMul kernel, for tests that compare it with the patch. */
export function stockWasmBatchMatMulKernel(): tf.KernelConfig | undefined {
  return stockWasmBatchMatMul
}

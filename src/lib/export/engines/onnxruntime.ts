// Types from onnxruntime-common (a plain dependency), so the build works where the optional onnxruntime-node is absent.
import type * as Ort from 'onnxruntime-common'

import {errorMessage} from '../../core/errors.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, NUM_CLASSES} from '../../core/image.js'
import {INPUT_NAME, OUTPUT_NAME} from '../format.js'
import {EngineModel} from './engine.js'

/** Set to 1 to treat onnxruntime-node as not installed (tests of the fallback; a machine where it misbehaves). */
export const NO_ONNXRUNTIME_ENV = 'MNIST_RNN_NO_ONNXRUNTIME'

type OrtModule = typeof Ort

export type OnnxRuntimeStatus = {loads: true; version: string} | {loads: false; problem: string}

let loading: Promise<OrtModule> | undefined

/** onnxruntime-node, imported once; rejects with why it does not load (its native binary is missing, the platform is unsupported …). */
export function importOnnxRuntime(): Promise<OrtModule> {
  if (process.env[NO_ONNXRUNTIME_ENV] === '1') return Promise.reject(new Error(`disabled by ${NO_ONNXRUNTIME_ENV}=1`))
  loading ??= (async () => {
    const packageName = 'onnxruntime-node'
    const module = (await import(packageName)) as OrtModule & {default?: OrtModule}
    // As a CommonJS package, its exports may arrive under `default`.
    const ort = module.InferenceSession ? module : module.default!
    if (!ort?.InferenceSession) throw new Error('onnxruntime-node has no InferenceSession')
    return ort
  })()
  return loading
}

/** Whether onnxruntime-node loads here, with its version or the one-line reason it does not. */
export async function onnxRuntimeStatus(): Promise<OnnxRuntimeStatus> {
  try {
    const ort = await importOnnxRuntime()
    return {loads: true, version: ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown'}
  } catch (error) {
    return {loads: false, problem: errorMessage(error).split('\n')[0]}
  }
}

/** ONNX Runtime session options for this model: one sequential graph, `threads` intra-op threads. */
export function onnxSessionOptions(threads: number): Ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Warnings only: ORT otherwise logs graph-optimisation notes on stderr.
    logSeverityLevel: 3,
    // Idle intra-op threads sleep instead of spinning: on a shared machine a spinning pool thread
    // takes a core from the HTTP thread between batches.
    extra: {session: {intra_op: {allow_spinning: threads > 1 ? '0' : '1'}}},
  }
}

/** A version's model.onnx in an ONNX Runtime InferenceSession. */
export class OnnxRuntimeModel implements EngineModel {
  readonly engine = 'onnxruntime' as const

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
  ) {}

  /** Loads model.onnx's bytes; an Error when ONNX Runtime refuses them or the graph lacks x_input → y_output. */
  static async create(onnxModel: Uint8Array, threads: number): Promise<OnnxRuntimeModel> {
    const ort = await importOnnxRuntime()
    const session = await ort.InferenceSession.create(onnxModel, onnxSessionOptions(threads))
    if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
      const found = `${session.inputNames.join(', ')} → ${session.outputNames.join(', ')}`
      await session.release()
      throw new Error(`model.onnx takes ${found}, not ${INPUT_NAME} → ${OUTPUT_NAME}`)
    }
    return new OnnxRuntimeModel(ort, session)
  }

  async run(images: Float32Array, count: number): Promise<Float32Array> {
    const input = new this.ort.Tensor('float32', images.subarray(0, count * IMAGE_PIXELS), [count, IMAGE_ROWS, IMAGE_COLS])
    const outputs = await this.session.run({[INPUT_NAME]: input})
    const output = outputs[OUTPUT_NAME]
    try {
      if (output.type !== 'float32' || output.dims.join() !== `${count},${NUM_CLASSES}`) {
        throw new Error(`model.onnx answered ${output.type} [${output.dims.join(', ')}], expected float32 [${count}, ${NUM_CLASSES}]`)
      }
      // A copy: the output's data belongs to the binding.
      return new Float32Array(output.data as Float32Array)
    } finally {
      output.dispose()
    }
  }

  release(): Promise<void> {
    return this.session.release()
  }
}

import {UserError} from '../../core/errors.js'
import {EngineChoice, EngineModel, EngineModelSource, EngineOptions, EngineSelection} from './engine.js'
import {OnnxRuntimeModel, onnxRuntimeStatus} from './onnxruntime.js'
import {TfjsModel} from './tfjs.js'

export interface EngineCandidate {
  /** Whether the model to run has model.onnx (an exported version written since ONNX export existed). */
  hasOnnxModel: boolean
  /** How to name it in a message: "version 3", "exportmodel/3". */
  description: string
}

/**
 * Picks the engine for a model: `tfjs` always works; `onnxruntime` needs onnxruntime-node to load
 * and the model to have model.onnx (a UserError saying which is missing); `auto` takes
 * onnxruntime when both hold, else tfjs, and says why.
 */
export async function selectEngine(choice: EngineChoice, candidate: EngineCandidate): Promise<EngineSelection> {
  if (choice === 'tfjs') return {engine: 'tfjs', reason: '--engine tfjs'}
  const status = await onnxRuntimeStatus()
  if (choice === 'onnxruntime') {
    if (!status.loads) throw new UserError(`--engine onnxruntime: onnxruntime-node does not load here (${status.problem}); use --engine tfjs`)
    if (!candidate.hasOnnxModel) throw new UserError(`--engine onnxruntime: ${candidate.description} has no model.onnx (exported before ONNX export existed; export it again, or use --engine tfjs)`)
    return {engine: 'onnxruntime', reason: `--engine onnxruntime (onnxruntime-node ${status.version})`}
  }
  if (!status.loads) return {engine: 'tfjs', reason: `auto: onnxruntime-node does not load (${status.problem})`}
  if (!candidate.hasOnnxModel) return {engine: 'tfjs', reason: `auto: ${candidate.description} has no model.onnx`}
  return {engine: 'onnxruntime', reason: `auto: onnxruntime-node ${status.version} loads and ${candidate.description} has model.onnx`}
}

/** Loads a version into its engine (tfjs on the process's active TF.js backend). */
export async function loadEngineModel(source: EngineModelSource, options: EngineOptions): Promise<EngineModel> {
  return source.engine === 'onnxruntime' ? OnnxRuntimeModel.create(source.onnxModel, options.onnxThreads) : TfjsModel.fromArrays(source.weights, source.hidden)
}

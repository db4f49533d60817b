import {availableParallelism} from 'node:os'

import {UserError} from '../core/errors.js'
import {requireInteger} from '../core/validation.js'
import {ImageSet, loadMnistSplit} from '../data/mnist.js'
import {writeErrorGrid} from '../evaluation/errors-png.js'
import {DEFAULT_EVAL_BATCH_SIZE, EvaluationResult, MAX_KEPT_ERRORS, evaluateBatches, evaluateWeights} from '../evaluation/evaluator.js'
import {EvaluatedModel, EvaluationReport, evaluationReport} from '../evaluation/report.js'
import {EngineChoice, EngineSelection} from '../export/engines/engine.js'
import {OnnxRuntimeModel, onnxRuntimeStatus} from '../export/engines/onnxruntime.js'
import {selectEngine} from '../export/engines/select.js'
import {encodeOnnxClassifier} from '../export/onnx/classifier-model.js'
import {ClassifierWeights, disposeClassifierWeights, hiddenUnitsOf, weightArraysOf} from '../model/weights.js'
import {ModelSource, loadModelForEvaluation} from './model-source.js'

export interface EvalOptions extends ModelSource {
  dataDir?: string
  /** The first N test images; all when absent. */
  limit?: number
  batchSize?: number
  /** Where to write the grid of misclassified digits, if anywhere. */
  errorsPng?: string
  backend: string
  /** What runs the model (auto: onnxruntime for an exported version with model.onnx when onnxruntime-node loads, else tfjs). */
  engine?: EngineChoice
  /** ONNX Runtime's intra-op threads (default: one per core). */
  onnxThreads?: number
  toolkitVersion?: string
  onProgress?: (done: number, total: number) => void
}

/** Refuses values no evaluation can use (a UserError naming the flag), before any work. */
export function checkEvalOptions(options: Pick<EvalOptions, 'limit' | 'batchSize' | 'model' | 'checkpoint' | 'onnxThreads'>): void {
  requireInteger(options.limit, '--limit', 1)
  requireInteger(options.batchSize, '--batch-size', 1)
  if (options.model !== undefined && options.checkpoint !== undefined) throw new UserError('give --model or --checkpoint, not both')
  requireInteger(options.onnxThreads, '--onnx-threads', 1)
}

/** `mnist-rnn eval`: scores a checkpoint or an exported model on the test set, streaming it in batches. */
export async function evaluateOnTestSet(options: EvalOptions): Promise<EvaluationReport> {
  checkEvalOptions(options)
  const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH_SIZE
  const {weights, onnxModel, model} = await loadModelForEvaluation(options)
  try {
    const engine = await selectEvaluationEngine(options.engine ?? 'auto', model, onnxModel !== undefined)
    const threads = options.onnxThreads ?? availableParallelism()
    const testSet = loadMnistSplit('test', options.dataDir, options.limit)
    const evaluation = {batchSize, keepErrors: options.errorsPng ? MAX_KEPT_ERRORS : 0, onProgress: options.onProgress}
    const result =
      engine.engine === 'onnxruntime'
        ? await evaluateOnOnnxRuntime(onnxModel ?? checkpointAsOnnx(weights, options.toolkitVersion), threads, testSet, evaluation)
        : await evaluateWeights(weights, testSet, evaluation)
    const errorsPng = options.errorsPng
      ? {path: options.errorsPng, digits: result.misclassified.length, ...writeErrorGrid(options.errorsPng, result.misclassified)}
      : undefined
    const reportEngine = {name: engine.engine, reason: engine.reason, ...(engine.engine === 'onnxruntime' && {threads})}
    return evaluationReport(result, {model, engine: reportEngine, backend: options.backend, batchSize, errorsPng})
  } finally {
    disposeClassifierWeights(weights)
  }
}

/**
 * An exported version runs on the engine `choice` names (auto: onnxruntime when it loads and the
 * version has model.onnx). A checkpoint runs on tfjs unless onnxruntime is asked for by name, in
 * which case it is converted to ONNX in memory, as export would write it.
 */
async function selectEvaluationEngine(choice: EngineChoice, model: EvaluatedModel, hasOnnxModel: boolean): Promise<EngineSelection> {
  if (model.kind === 'export') return selectEngine(choice, {hasOnnxModel, description: `version ${model.name}`})
  if (choice === 'tfjs') return {engine: 'tfjs', reason: '--engine tfjs'}
  if (choice === 'auto') return {engine: 'tfjs', reason: 'auto: a checkpoint has no model.onnx'}
  const status = await onnxRuntimeStatus()
  if (!status.loads) throw new UserError(`--engine onnxruntime: onnxruntime-node does not load here (${status.problem}); use --engine tfjs`)
  return {engine: 'onnxruntime', reason: `--engine onnxruntime (onnxruntime-node ${status.version}; checkpoint ${model.name} converted to ONNX in memory)`}
}

function checkpointAsOnnx(weights: ClassifierWeights, toolkitVersion = 'unknown'): Buffer {
  return encodeOnnxClassifier({weights: weightArraysOf(weights), hidden: hiddenUnitsOf(weights), producerVersion: toolkitVersion})
}

async function evaluateOnOnnxRuntime(
  onnxModel: Uint8Array,
  threads: number,
  testSet: ImageSet,
  options: Parameters<typeof evaluateBatches>[2],
): Promise<EvaluationResult> {
  const model = await OnnxRuntimeModel.create(onnxModel, threads)
  try {
    return await evaluateBatches((images, count) => model.run(images, count), testSet, options)
  } finally {
    await model.release()
  }
}

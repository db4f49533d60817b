import {loadMnistSplit} from '../data/mnist.js'
import {UserError} from '../core/errors.js'
import {disposeClassifierWeights} from '../model/weights.js'
import {requireInteger} from '../core/validation.js'
import {DEFAULT_EVAL_BATCH_SIZE, MAX_KEPT_ERRORS, evaluateWeights} from '../evaluation/evaluator.js'
import {writeErrorGrid} from '../evaluation/errors-png.js'
import {ModelSource, loadModelForEvaluation} from './model-source.js'
import {EvaluationReport, evaluationReport} from '../evaluation/report.js'

export interface EvalOptions extends ModelSource {
  dataDir?: string
  /** The first N test images; all when absent. */
  limit?: number
  batchSize?: number
  /** Where to write the grid of misclassified digits, if anywhere. */
  errorsPng?: string
  backend: string
  onProgress?: (done: number, total: number) => void
}

/** `mnist-rnn eval`: scores a checkpoint or an exported model on the test set, streaming it in batches. */
export async function evaluateOnTestSet(options: EvalOptions): Promise<EvaluationReport> {
  requireInteger(options.limit, '--limit', 1)
  requireInteger(options.batchSize, '--batch-size', 1)
  if (options.model !== undefined && options.checkpoint !== undefined) throw new UserError('give --model or --checkpoint, not both')
  const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH_SIZE
  const {weights, model} = await loadModelForEvaluation(options)
  try {
    const testSet = loadMnistSplit('test', options.dataDir, options.limit)
    const result = await evaluateWeights(weights, testSet, {
      batchSize,
      keepErrors: options.errorsPng ? MAX_KEPT_ERRORS : 0,
      onProgress: options.onProgress,
    })
    const errorsPng = options.errorsPng
      ? {path: options.errorsPng, digits: result.misclassified.length, ...writeErrorGrid(options.errorsPng, result.misclassified)}
      : undefined
    return evaluationReport(result, {model, backend: options.backend, batchSize, errorsPng})
  } finally {
    disposeClassifierWeights(weights)
  }
}

import {mkdirSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'

import {UserError, errorMessage} from '../core/errors.js'
import {requireInteger} from '../core/validation.js'
import {loadMnistSplit} from '../data/mnist.js'
import {DEFAULT_EVAL_BATCH_SIZE, MAX_KEPT_ERRORS, evaluateWeights} from '../evaluation/evaluator.js'
import {ReportEvaluation, ReportExport, trainingReportHtml} from '../evaluation/report-html/report.js'
import {EvaluatedModel} from '../evaluation/report.js'
import {ExportSignature} from '../export/format.js'
import {ClassifierWeights, disposeClassifierWeights} from '../model/weights.js'
import {TrainingHistory, readTrainingLog} from '../training/log-file.js'
import {ModelSource, loadModelForEvaluation} from './model-source.js'

export const DEFAULT_REPORT_FILE = 'report.html'

export interface ReportOptions {
  /** Where the HTML goes. */
  out: string
  /** A `--log-file` to draw the curves from. */
  logFile?: string
  /** The model to evaluate on the test set, if any (`--model`, or a checkpoint). */
  source?: ModelSource
  dataDir?: string
  /** The first N test images; all when absent. */
  limit?: number
  batchSize?: number
  backend: string
  toolkitVersion: string
}

export interface ReportResult {
  path: string
  bytes: number
  /** Steps and epochs drawn from the log. */
  steps: number
  epochs: number
  evaluated?: {model: EvaluatedModel; images: number; accuracy: number; loss: number}
}

/** The test-set evaluation of some weights, for the report (the caller keeps and disposes the weights). */
async function evaluationOf(weights: ClassifierWeights, model: EvaluatedModel, options: ReportOptions): Promise<ReportEvaluation> {
  const testSet = loadMnistSplit('test', options.dataDir, options.limit)
  const result = await evaluateWeights(weights, testSet, {batchSize: options.batchSize ?? DEFAULT_EVAL_BATCH_SIZE, keepErrors: MAX_KEPT_ERRORS})
  const data = options.limit === undefined ? `the ${testSet.count.toLocaleString('en-US')} test images` : `the first ${testSet.count.toLocaleString('en-US')} test images`
  return {model, data, result}
}

function exportDetails(path: string, signature: ExportSignature): ReportExport {
  return {
    path,
    version: path.replace(/[/\\]+$/, '').split(/[/\\]/).at(-1) ?? path,
    tags: signature.tags,
    signatureDef: signature.signature_def,
    provenance: {...signature.provenance},
    files: signature.files,
  }
}

function writeHtml(path: string, html: string): number {
  try {
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, html)
  } catch (error) {
    throw new UserError(`cannot write the report ${path}: ${errorMessage(error)}`)
  }
  return Buffer.byteLength(html)
}

function summarize(path: string, bytes: number, history: TrainingHistory | undefined, evaluation: ReportEvaluation | undefined): ReportResult {
  return {
    path,
    bytes,
    steps: history?.steps.length ?? 0,
    epochs: history?.epochs.length ?? 0,
    evaluated: evaluation && {
      model: evaluation.model,
      images: evaluation.result.images,
      accuracy: evaluation.result.accuracy,
      loss: evaluation.result.meanLoss,
    },
  }
}

/** Refuses values no report can use (a UserError naming the flag), before any work. */
export function checkReportOptions(options: Pick<ReportOptions, 'limit' | 'batchSize' | 'logFile' | 'source'>): void {
  requireInteger(options.limit, '--limit', 1)
  requireInteger(options.batchSize, '--batch-size', 1)
  if (options.logFile === undefined && options.source === undefined) {
    throw new UserError('give --log-file, a model (--model, --checkpoint or --checkpoint-dir), or both')
  }
}

/** `mnist-rnn report`: the HTML report of a training log and/or a model scored on the test set. */
export async function writeReport(options: ReportOptions): Promise<ReportResult> {
  checkReportOptions(options)
  const history = options.logFile === undefined ? undefined : readTrainingLog(options.logFile)
  let evaluation: ReportEvaluation | undefined
  let exported: ReportExport | undefined
  if (options.source) {
    const loaded = await loadModelForEvaluation(options.source)
    try {
      evaluation = await evaluationOf(loaded.weights, loaded.model, options)
      if (loaded.signature) exported = exportDetails(loaded.model.path, loaded.signature)
    } finally {
      disposeClassifierWeights(loaded.weights)
    }
  }
  const html = trainingReportHtml({
    history,
    logSource: options.logFile,
    evaluation,
    exported,
    backend: options.backend,
    toolkitVersion: options.toolkitVersion,
    generatedAt: new Date(),
  })
  return summarize(options.out, writeHtml(options.out, html), history, evaluation)
}

/**
 * `train --report FILE`: the report at the end of training, from the run's history and its final
 * weights (scored on the test set unless the run was stopped, which should exit promptly).
 */
export async function writeTrainingReport(
  options: Omit<ReportOptions, 'source' | 'logFile'> & {history: TrainingHistory; logSource?: string; weights?: ClassifierWeights; model: EvaluatedModel},
): Promise<ReportResult> {
  const evaluation = options.weights ? await evaluationOf(options.weights, options.model, options) : undefined
  const html = trainingReportHtml({
    history: options.history,
    logSource: options.logSource,
    evaluation,
    backend: options.backend,
    toolkitVersion: options.toolkitVersion,
    generatedAt: new Date(),
  })
  return summarize(options.out, writeHtml(options.out, html), options.history, evaluation)
}

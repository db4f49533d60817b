import chalk, {Chalk, ChalkInstance} from 'chalk'

import {EvaluationResult} from './evaluator.js'
import {ClassMetrics, ConfusedPair, ConfusionMatrix} from './metrics.js'

/** What was evaluated, for the report's header. */
export interface EvaluatedModel {
  kind: 'checkpoint' | 'export'
  path: string
  /** Checkpoint name (ckpt-60) or export version ("2"). */
  name: string
  step?: number
  hidden: number
}

export interface ErrorGridInfo {
  path: string
  width: number
  height: number
  digits: number
}

/** `eval --json`: everything in the text report, numbers unrounded, the matrix as nested arrays. */
/** The engine that ran the model (tfjs or onnxruntime) and why it was chosen. */
export interface EvaluationEngine {
  name: string
  reason: string
  /** ONNX Runtime's intra-op threads, for onnxruntime. */
  threads?: number
}

export interface EvaluationReport {
  model: EvaluatedModel
  engine: EvaluationEngine
  backend: string
  batchSize: number
  images: number
  correct: number
  accuracy: number
  loss: number
  imagesPerSecond: number
  seconds: number
  confusionMatrix: ConfusionMatrix
  perClass: ClassMetrics[]
  confusedPairs: ConfusedPair[]
  errorsPng?: ErrorGridInfo
}

export function evaluationReport(
  result: EvaluationResult,
  context: {model: EvaluatedModel; engine: EvaluationEngine; backend: string; batchSize: number; errorsPng?: ErrorGridInfo},
): EvaluationReport {
  return {
    model: context.model,
    engine: context.engine,
    backend: context.backend,
    batchSize: context.batchSize,
    images: result.images,
    correct: result.correct,
    accuracy: result.accuracy,
    loss: result.meanLoss,
    imagesPerSecond: result.imagesPerSecond,
    seconds: result.seconds,
    confusionMatrix: result.confusionMatrix,
    perClass: result.perClass,
    confusedPairs: result.confusedPairs,
    ...(context.errorsPng ? {errorsPng: context.errorsPng} : {}),
  }
}

const DECIMALS = 4
const CELL_WIDTH = 6
const NO_VALUE = '—'

function fixed(value: number | null): string {
  return value === null ? NO_VALUE : value.toFixed(DECIMALS)
}

export function describeModel(model: EvaluatedModel): string {
  const what = model.kind === 'checkpoint' ? `checkpoint ${model.name}` : `exported model version ${model.name}`
  return `${what} (${model.path}${model.step !== undefined ? `, step ${model.step}` : ''}, ${model.hidden} hidden units)`
}

function describeEngine(report: EvaluationReport): string {
  const {name, reason, threads} = report.engine
  if (name === 'tfjs') return `tfjs on backend ${report.backend} (${reason})`
  return `${name}${threads === undefined ? '' : `, ${threads} intra-op thread${threads === 1 ? '' : 's'}`} (${reason})`
}

/**
 * The text report, one line per array entry. With `colour`, the confusion matrix is a heat map:
 * the diagonal in green by each digit's recall, errors in red by their share of the largest error.
 */
export function formatEvaluationReport(report: EvaluationReport, options: {colour: boolean}): string[] {
  const lines = [
    `Model: ${describeModel(report.model)}`,
    `Engine: ${describeEngine(report)}`,
    `Images: ${report.images} (batches of ${report.batchSize})`,
    `Accuracy: ${fixed(report.accuracy)} (${report.correct}/${report.images})`,
    `Mean cross-entropy loss: ${fixed(report.loss)}`,
    `Speed: ${Math.round(report.imagesPerSecond)} images/s (${report.seconds.toFixed(2)} s)`,
    '',
    'Confusion matrix (rows: true digit, columns: predicted digit):',
    ...formatConfusionMatrix(report.confusionMatrix, options.colour ? new Chalk({level: chalk.level || 1}) : undefined),
    '',
    'Per class:',
    `${'digit'.padStart(5)}  ${'precision'.padStart(9)}  ${'recall'.padStart(9)}  ${'f1'.padStart(9)}  ${'support'.padStart(7)}`,
    ...report.perClass.map(
      (entry) =>
        `${String(entry.digit).padStart(5)}  ${fixed(entry.precision).padStart(9)}  ${fixed(entry.recall).padStart(9)}  ${fixed(entry.f1).padStart(9)}  ${String(entry.support).padStart(7)}`,
    ),
    '',
    report.confusedPairs.length > 0 ? 'Most confused (true → predicted):' : 'No misclassified images.',
    ...report.confusedPairs.map((pair) => `  ${pair.trueLabel} → ${pair.predictedLabel}: ${pair.count} ${pair.count === 1 ? 'time' : 'times'}`),
  ]
  if (report.errorsPng) {
    lines.push('', `Wrote ${report.errorsPng.digits} misclassified digits to ${report.errorsPng.path} (${report.errorsPng.width}×${report.errorsPng.height} PNG)`)
  }
  return lines
}

export function formatConfusionMatrix(matrix: ConfusionMatrix, colours?: ChalkInstance): string[] {
  const header = `${'true'.padStart(5)} ${matrix.map((_, digit) => String(digit).padStart(CELL_WIDTH)).join('')}`
  let largestError = 0
  matrix.forEach((row, t) => row.forEach((count, p) => t !== p && (largestError = Math.max(largestError, count))))
  const rows = matrix.map((row, trueLabel) => {
    const support = row.reduce((a, b) => a + b, 0)
    const cells = row.map((count, predicted) => {
      const text = String(count).padStart(CELL_WIDTH)
      if (!colours || count === 0) return text
      const share = trueLabel === predicted ? count / support : count / largestError
      return heat(colours, text, share, trueLabel === predicted)
    })
    return `${String(trueLabel).padStart(5)} ${cells.join('')}`
  })
  return [header, ...rows]
}

function heat(colours: ChalkInstance, text: string, share: number, diagonal: boolean): string {
  const strength = Math.round(60 + 195 * Math.min(1, Math.max(0, share)))
  const background = diagonal ? colours.bgRgb(0, Math.round(strength * 0.6), 0) : colours.bgRgb(strength, 0, 0)
  return background.white(text)
}

import {existsSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {UserError} from '../../core/errors.js'
import {KERAS_WEIGHT_PATHS} from '../../model/keras.js'
import {WEIGHT_NAMES, WeightName, weightArraysOf} from '../../model/weights.js'
import {EpochEndEvent, TrainingEvents} from '../events.js'
import {Misclassified} from '../metrics.js'
import {EventFileWriter} from './event-file.js'
import {histogramOf} from './histogram.js'
import {SummaryValue} from './protos.js'

/** The runs, as the Keras TensorBoard callback names them: one folder each under the log dir. */
export const TRAIN_RUN = 'train'
export const VALIDATION_RUN = 'validation'

/** Tags, as Keras writes them where Keras has one (batch_*, epoch_*, <weight>/histogram). */
export const TAGS = {
  batchLoss: 'batch_loss',
  batchAccuracy: 'batch_accuracy',
  learningRate: 'learning_rate',
  examplesPerSecond: 'examples_per_second',
  epochLoss: 'epoch_loss',
  epochAccuracy: 'epoch_accuracy',
  misclassifiedDigits: 'misclassified_digits',
} as const


export function histogramTag(weight: WeightName): string {
  return `${KERAS_WEIGHT_PATHS[weight]}/histogram`
}

/** Summary.Image's colorspace for RGBA (what pngjs writes). */
const RGBA_COLORSPACE = 4
/** Where a PNG's IHDR chunk stores the width and height (big-endian uint32s). */
const PNG_WIDTH_OFFSET = 16
const PNG_HEIGHT_OFFSET = 20

export interface TensorBoardOptions {
  /** The log dir: `train/` and `validation/` go under it. */
  dir: string
  /** Draws misclassified validation digits as a PNG (RGBA); without it, no image summary is written. */
  errorGridPng?: (errors: Misclassified[]) => Buffer
  /** The host name in the file names (default: this machine's). */
  host?: string
}

function scalar(tag: string, value: number): SummaryValue {
  return {tag, simple_value: value}
}

function pngImage(tag: string, png: Buffer): SummaryValue {
  const width = png.readUInt32BE(PNG_WIDTH_OFFSET)
  const height = png.readUInt32BE(PNG_HEIGHT_OFFSET)
  return {tag, image: {width, height, colorspace: RGBA_COLORSPACE, encoded_image_string: png}}
}

/**
 * `train --tensorboard DIR`: TensorBoard event files on every backend, laid out as the Keras
 * TensorBoard callback lays them out. One new file per run (and per resume) in each of
 * `DIR/train/` and `DIR/validation/`:
 * - train: batch_loss, batch_accuracy, learning_rate, examples_per_second every step; epoch_loss
 *   and epoch_accuracy (the means over the epoch's steps) and a histogram of each weight every epoch;
 * - validation: epoch_loss, epoch_accuracy and misclassified_digits (a PNG grid) every epoch.
 * Every value is at the global step (epoch values at the step that ended the epoch), so batch and
 * epoch curves share one axis and a resumed run continues the same curves. A resumed run's files
 * open with SessionLog START at its first step, which tells TensorBoard to drop anything an
 * interrupted run logged past the checkpoint.
 */
export function attachTensorBoard(events: TrainingEvents, options: TensorBoardOptions): void {
  if (existsSync(options.dir) && !statSync(options.dir).isDirectory()) {
    throw new UserError(`--tensorboard ${options.dir} is a file, not a folder`)
  }
  let train: EventFileWriter | undefined
  let validation: EventFileWriter | undefined
  let epochSums = {loss: 0, accuracy: 0, steps: 0}

  events.on('trainBegin', ({startStep, resumedFrom}) => {
    train = new EventFileWriter(join(options.dir, TRAIN_RUN), {host: options.host})
    validation = new EventFileWriter(join(options.dir, VALIDATION_RUN), {host: options.host})
    if (resumedFrom !== undefined) for (const writer of [train, validation]) writer.writeSessionLog(startStep + 1, 'START')
  })
  events.on('stepEnd', ({step, loss, accuracy, learningRate, examplesPerSecond}) => {
    train?.writeSummary(step, [
      scalar(TAGS.batchLoss, loss),
      scalar(TAGS.batchAccuracy, accuracy),
      scalar(TAGS.learningRate, learningRate),
      scalar(TAGS.examplesPerSecond, examplesPerSecond),
    ])
    epochSums = {loss: epochSums.loss + loss, accuracy: epochSums.accuracy + accuracy, steps: epochSums.steps + 1}
  })
  events.on('epochEnd', (event) => {
    const epochMeans =
      epochSums.steps === 0 ? [] : [scalar(TAGS.epochLoss, epochSums.loss / epochSums.steps), scalar(TAGS.epochAccuracy, epochSums.accuracy / epochSums.steps)]
    train?.writeSummary(event.step, [...epochMeans, ...weightHistograms(event)])
    epochSums = {loss: 0, accuracy: 0, steps: 0}
    if (event.validationLoss === undefined || event.validationAccuracy === undefined) return
    const values = [scalar(TAGS.epochLoss, event.validationLoss), scalar(TAGS.epochAccuracy, event.validationAccuracy)]
    if (options.errorGridPng && event.validationErrors && event.validationErrors.length > 0) {
      values.push(pngImage(TAGS.misclassifiedDigits, options.errorGridPng(event.validationErrors)))
    }
    validation?.writeSummary(event.step, values)
  })
  events.on('trainEnd', () => {
    train?.close()
    validation?.close()
  })
}

function weightHistograms(event: EpochEndEvent): SummaryValue[] {
  const arrays = weightArraysOf(event.weights)
  return WEIGHT_NAMES.map((name) => ({tag: histogramTag(name), histo: histogramOf(arrays[name])}))
}

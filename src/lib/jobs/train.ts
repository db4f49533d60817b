import {basename, join} from 'node:path'

import {ImageSet, headOf, loadMnistSplit, splitValidation} from '../data/mnist.js'
import {UserError} from '../core/errors.js'
import {ClassifierWeights, createClassifierWeights, disposeClassifierWeights} from '../model/weights.js'
import {LoadedCheckpoint, loadCheckpoint, readCheckpointIndex} from '../training/checkpoint.js'
import {DEFAULT_KEEP, TrainingConfig, TrainingOptions, checkTrainingOptions, newTrainingConfig, resumedTrainingConfig} from '../training/config.js'
import {requireInteger} from '../core/validation.js'
import {errorGridPng} from '../evaluation/errors-png.js'
import {TrainEndEvent, TrainingEvents} from '../training/events.js'
import {attachLogEntries} from '../training/listeners/json-log.js'
import {LogEntry, historyOf, readTrainingLog} from '../training/log-file.js'
import {attachTensorBoard} from '../training/tensorboard/listener.js'
import {attachCheckpointer} from '../training/listeners/checkpointer.js'
import {Trainer} from '../training/trainer.js'
import {lossAndAccuracyOf} from '../training/metrics.js'
import {ReportResult, writeTrainingReport} from './report.js'

/** The seed's final check: accuracy on the first 128 test images. */
export const SEED_TEST_IMAGES = 128

export interface TrainingRunOptions extends TrainingOptions {
  checkpointDir: string
  keep?: number
  resume?: boolean
  dataDir?: string
}

export interface TrainingSummary {
  step: number
  /** Completed epochs. */
  epoch: number
  targetSteps: number
  stopped: boolean
  wallTimeSeconds: number
  /** The last minibatch's loss and accuracy. */
  loss?: number
  accuracy?: number
  validation?: {images: number; loss: number; accuracy: number}
  test?: {images: number; accuracy: number}
  /** The latest checkpoint's folder. */
  checkpoint?: string
  resumedFrom?: string
  config: TrainingConfig
}

/** Training files already read in this process (runs that resume in-process, tests), by data dir. */
const loadedTrainingSets = new Map<string | undefined, ImageSet>()

function trainingSet(dataDir: string | undefined): ImageSet {
  let set = loadedTrainingSets.get(dataDir)
  if (!set) {
    set = loadMnistSplit('train', dataDir)
    loadedTrainingSets.set(dataDir, set)
  }
  return set
}

function trainingData(config: Omit<TrainingConfig, 'trainingImages'>, dataDir: string | undefined): {train: ImageSet; validation: ImageSet} {
  const split = splitValidation(trainingSet(dataDir), config.validationSize)
  const train = config.limit === null ? split.train : headOf(split.train, config.limit)
  if (config.batchSize > train.count) {
    throw new UserError(`--batch-size ${config.batchSize} is larger than the ${train.count} training images`)
  }
  return {train, validation: split.validation}
}

/**
 * Everything before the first step: checks the options, loads the data, and creates the trainer,
 * fresh or from the latest checkpoint (`resume`). `attachListeners` (displays, logs) is attached
 * before the checkpointer, so that a step is reported before the checkpoint after it. Nothing is
 * written to disk here: a bad flag or bad data fails before any file changes.
 */
export async function prepareTraining(options: TrainingRunOptions, attachListeners?: (trainer: Trainer) => void): Promise<Trainer> {
  checkTrainingOptions(options)
  requireInteger(options.keep, '--keep', 1)
  const dir = options.checkpointDir

  let checkpoint: LoadedCheckpoint | undefined
  let config: TrainingConfig
  let data: {train: ImageSet; validation: ImageSet}
  if (options.resume) {
    checkpoint = loadCheckpoint(dir)
    try {
      config = resumedTrainingConfig(checkpoint.config, options, checkpoint.name)
      data = trainingData(config, options.dataDir)
      if (data.train.count !== config.trainingImages) {
        throw new UserError(`the data has ${data.train.count} training images but ${checkpoint.name} was trained on ${config.trainingImages}`)
      }
    } catch (error) {
      disposeClassifierWeights(checkpoint.weights)
      throw error
    }
  } else {
    const index = readCheckpointIndex(dir)
    if (index) {
      throw new UserError(`${dir} already holds checkpoints (latest ${index.latest}): add --resume to continue that run, or choose another --checkpoint-dir`)
    }
    const fresh = newTrainingConfig(options)
    data = trainingData(fresh, options.dataDir)
    config = {...fresh, trainingImages: data.train.count}
  }

  const weights: ClassifierWeights = checkpoint?.weights ?? createClassifierWeights(config.hidden, config.seed)
  const trainer = await Trainer.create({
    config,
    ...data,
    weights,
    start: checkpoint && {
      step: checkpoint.step,
      dataPosition: checkpoint.dataPosition,
      optimizer: checkpoint.optimizer,
      metrics: checkpoint.metrics,
      checkpointName: checkpoint.name,
    },
  })
  try {
    attachListeners?.(trainer)
  } catch (error) {
    trainer.dispose()
    throw error
  }
  attachCheckpointer(trainer, {dir, everySteps: config.checkpointEvery ?? undefined, keep: options.keep ?? DEFAULT_KEEP})
  return trainer
}

/**
 * What a run achieved. After a completed run it also scores the seed's check (the first 128 test
 * images) and the whole validation split (the last epoch's score when no step came after it);
 * a stopped run skips that to exit promptly.
 */
export function summarizeTraining(trainer: Trainer, end: TrainEndEvent, options: {checkpointDir: string; dataDir?: string}): TrainingSummary {
  const latest = readCheckpointIndex(options.checkpointDir)?.latest
  const summary: TrainingSummary = {
    step: end.step,
    epoch: trainer.epoch,
    targetSteps: trainer.targetSteps,
    stopped: end.stopped,
    wallTimeSeconds: end.wallTime,
    loss: trainer.metrics.loss,
    accuracy: trainer.metrics.accuracy,
    checkpoint: latest && join(options.checkpointDir, latest),
    resumedFrom: trainer.resumedFrom,
    config: trainer.config,
  }
  if (end.stopped) return summary
  const test = loadMnistSplit('test', options.dataDir, SEED_TEST_IMAGES)
  summary.test = {images: test.count, accuracy: lossAndAccuracyOf(trainer.weights, test).accuracy}
  if (trainer.validation.count > 0) summary.validation = {images: trainer.validation.count, ...trainer.validationScore()}
  return summary
}

/** The command line that continues a stopped run. */
export function resumeCommandLine(bin: string, options: {checkpointDir: string; dataDir?: string}): string {
  const parts = [bin, 'train', '--resume', '--checkpoint-dir', options.checkpointDir]
  if (options.dataDir !== undefined) parts.push('--data-dir', options.dataDir)
  return parts.map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replaceAll("'", "'\\''")}'`)).join(' ')
}

/**
 * `--tensorboard DIR`: TensorBoard event files (training/tensorboard/), with each epoch's
 * misclassified validation digits drawn as eval's error grid.
 */
export function attachTensorBoardLog(events: TrainingEvents, dir: string): void {
  attachTensorBoard(events, {dir, errorGridPng})
}

export interface TrainingReportOptions {
  out: string
  /** The run's `--log-file`: when given, the report draws its whole history (earlier runs too). */
  logFile?: string
  checkpointDir: string
  dataDir?: string
  backend: string
  toolkitVersion: string
}

/**
 * `--report FILE`: the HTML report at the end of training. Without a log file it keeps this
 * run's log entries in memory; the final weights are scored on the test set unless the run was stopped.
 */
export class TrainingReporter {
  private readonly entries: LogEntry[] = []

  constructor(private readonly options: TrainingReportOptions) {}

  attach(events: TrainingEvents): void {
    if (this.options.logFile === undefined) attachLogEntries(events, (entry) => this.entries.push(entry))
  }

  async write(trainer: Trainer, summary: TrainingSummary): Promise<ReportResult> {
    const {logFile, checkpointDir} = this.options
    const history = logFile === undefined ? historyOf(this.entries) : readTrainingLog(logFile)
    return writeTrainingReport({
      ...this.options,
      history,
      logSource: logFile,
      weights: summary.stopped ? undefined : trainer.weights,
      model: {
        kind: 'checkpoint',
        path: summary.checkpoint ?? checkpointDir,
        name: summary.checkpoint === undefined ? `step ${summary.step}` : basename(summary.checkpoint),
        step: summary.step,
        hidden: trainer.config.hidden,
      },
    })
  }
}

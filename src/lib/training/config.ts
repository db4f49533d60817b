import {UserError} from '../core/errors.js'
import {requireInteger, requireNonNegative, requirePositive} from '../core/validation.js'
import {DEFAULT_VALIDATION_SIZE} from '../data/mnist.js'
import {DEFAULT_HIDDEN_UNITS} from '../model/weights.js'
import {OPTIMIZER_NAMES, OptimizerName, isOptimizerName} from './optimizers.js'
import {SCHEDULE_NAMES, ScheduleName, isScheduleName, scheduledLearningRate} from './schedule.js'
import {defaultTrainingWorkers} from './parallel/workers.js'

/**
 * The default recipe: Adam, a linear warm-up to a peak learning rate, then a cosine decay to zero
 * over the run, gradients clipped by global norm. Peak, warm-up, clipping and the number of epochs
 * were chosen from learning curves on the validation split (the test set only reports); see the
 * README's "Training recipe" section.
 */
export const DEFAULT_EPOCHS = 6
export const DEFAULT_BATCH_SIZE = 128
/** The peak learning rate of the default schedule. */
export const DEFAULT_LEARNING_RATE = 0.01
export const DEFAULT_SCHEDULE: ScheduleName = 'cosine'
/** Warm-up of the default schedule, in epochs (a fraction of an epoch, whatever the data set's size). */
export const DEFAULT_WARMUP_EPOCHS = 0.5
/** The global norm gradients are clipped to (the usual guard for LSTMs). */
export const DEFAULT_CLIP_NORM = 1
/** The exponential schedule multiplies the learning rate by this after every epoch (1 keeps it constant). */
export const DEFAULT_LEARNING_RATE_DECAY = 0.85
export const DEFAULT_OPTIMIZER: OptimizerName = 'adam'
export const DEFAULT_SEED = 42
export const DEFAULT_DISPLAY_STEP = 200
export const DEFAULT_KEEP = 5
export const DEFAULT_CHECKPOINT_DIR = 'checkpoints'

/**
 * What determines the weights a run produces: stored in every checkpoint, and what a resumed
 * run must agree with. The run's length (steps or epochs) may change on resume.
 */
export interface TrainingConfig {
  hidden: number
  seed: number
  batchSize: number
  /** The peak learning rate: where the warm-up ends and the decay starts. */
  learningRate: number
  /** Used by the exponential schedule only. */
  learningRateDecay: number
  /** Absent in checkpoints written before schedules existed, which all used 'exponential'. */
  schedule: ScheduleName
  /** The warm-up's length: in steps, or in epochs (at most one is set; neither: no warm-up). */
  warmupSteps: number | null
  warmupEpochs: number | null
  /** Clip gradients to this global norm; null: no clipping. */
  clipNorm: number | null
  optimizer: OptimizerName
  validationSize: number
  /** Train on the first N training images (after the validation split); null: all. */
  limit: number | null
  /** How many images the training split held, so a resume on different data is caught. */
  trainingImages: number
  /** The run's length: total steps, or total epochs (exactly one is set). */
  steps: number | null
  epochs: number | null
  /** Save a checkpoint every N steps; null: after every epoch. Kept on resume unless given again. */
  checkpointEvery: number | null
  /**
   * Worker threads that each compute the gradients of a slice of every batch (1: the main thread
   * alone). The count decides how the batch's gradient is summed, so it is kept on resume unless
   * given again: the same count continues bit for bit.
   */
  workers: number
}

/** The settings a user can give; undefined means "the default", or "as in the checkpoint" on resume. */
export interface TrainingOptions {
  hidden?: number
  seed?: number
  batchSize?: number
  learningRate?: number
  learningRateDecay?: number
  schedule?: string
  warmupSteps?: number
  warmupEpochs?: number
  /** 0 turns clipping off. */
  clipNorm?: number
  optimizer?: string
  validationSize?: number
  limit?: number
  steps?: number
  epochs?: number
  checkpointEvery?: number
  workers?: number
}

/** Settings that must match the checkpoint on resume, with their flag names. */
const FIXED_ON_RESUME: ReadonlyArray<[keyof TrainingOptions & keyof TrainingConfig, string]> = [
  ['hidden', '--hidden'],
  ['seed', '--seed'],
  ['batchSize', '--batch-size'],
  ['learningRate', '--learning-rate'],
  ['learningRateDecay', '--learning-rate-decay'],
  ['schedule', '--schedule'],
  ['warmupSteps', '--warmup-steps'],
  ['warmupEpochs', '--warmup-epochs'],
  ['optimizer', '--optimizer'],
  ['validationSize', '--validation-size'],
  ['limit', '--limit'],
]

/**
 * What a checkpoint written before schedules, clipping and workers existed was trained with:
 * its exponential decay, no warm-up, no clipping, the main thread alone.
 */
const BEFORE_SCHEDULES: Pick<TrainingConfig, 'schedule' | 'warmupSteps' | 'warmupEpochs' | 'clipNorm' | 'workers'> = {
  schedule: 'exponential',
  warmupSteps: null,
  warmupEpochs: null,
  clipNorm: null,
  workers: 1,
}

/** Rejects values no run could use, with the flag's name, before anything touches the disk. */
export function checkTrainingOptions(options: TrainingOptions): void {
  requireInteger(options.hidden, '--hidden', 1)
  requireInteger(options.seed, '--seed', 0)
  requireInteger(options.batchSize, '--batch-size', 1)
  requirePositive(options.learningRate, '--learning-rate')
  requirePositive(options.learningRateDecay, '--learning-rate-decay')
  if (options.learningRateDecay !== undefined && options.learningRateDecay > 1) {
    throw new UserError(`--learning-rate-decay must be in (0, 1], got ${options.learningRateDecay}`)
  }
  if (options.schedule !== undefined && !isScheduleName(options.schedule)) {
    throw new UserError(`unknown schedule "${options.schedule}": use one of ${SCHEDULE_NAMES.join(', ')}`)
  }
  requireInteger(options.warmupSteps, '--warmup-steps', 0)
  requireNonNegative(options.warmupEpochs, '--warmup-epochs')
  if (options.warmupSteps !== undefined && options.warmupEpochs !== undefined) {
    throw new UserError('give --warmup-steps or --warmup-epochs, not both')
  }
  requireNonNegative(options.clipNorm, '--clip-norm')
  requireInteger(options.workers, '--workers', 1)
  if (options.workers !== undefined && options.batchSize !== undefined && options.workers > options.batchSize) {
    throw new UserError(`--workers ${options.workers} is more than the ${options.batchSize} examples of a batch`)
  }
  if (options.optimizer !== undefined && !isOptimizerName(options.optimizer)) {
    throw new UserError(`unknown optimizer "${options.optimizer}": use one of ${OPTIMIZER_NAMES.join(', ')}`)
  }
  requireInteger(options.validationSize, '--validation-size', 0)
  requireInteger(options.limit, '--limit', 1)
  requireInteger(options.steps, '--steps', 1)
  requireInteger(options.epochs, '--epochs', 1)
  requireInteger(options.checkpointEvery, '--checkpoint-every', 1)
  if (options.steps !== undefined && options.epochs !== undefined) {
    throw new UserError('give --steps or --epochs, not both')
  }
}

/** The configuration of a new run: options over defaults. `trainingImages` is filled in once data is loaded. */
export function newTrainingConfig(options: TrainingOptions): Omit<TrainingConfig, 'trainingImages'> {
  checkTrainingOptions(options)
  const lengthGiven = options.steps !== undefined || options.epochs !== undefined
  // --learning-rate-decay alone asks for the schedule it belongs to.
  const schedule = (options.schedule as ScheduleName | undefined) ?? (options.learningRateDecay !== undefined ? 'exponential' : DEFAULT_SCHEDULE)
  const warmupGiven = options.warmupSteps !== undefined || options.warmupEpochs !== undefined
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  const workers = options.workers ?? Math.min(defaultTrainingWorkers(), batchSize)
  if (workers > batchSize) throw new UserError(`--workers ${workers} is more than the ${batchSize} examples of a batch`)
  return {
    hidden: options.hidden ?? DEFAULT_HIDDEN_UNITS,
    seed: options.seed ?? DEFAULT_SEED,
    batchSize,
    learningRate: options.learningRate ?? DEFAULT_LEARNING_RATE,
    learningRateDecay: options.learningRateDecay ?? DEFAULT_LEARNING_RATE_DECAY,
    schedule,
    // The default warm-up belongs to the default (cosine) schedule; the others start at their rate.
    warmupSteps: options.warmupSteps ?? null,
    warmupEpochs: warmupGiven ? (options.warmupEpochs ?? null) : schedule === 'cosine' ? DEFAULT_WARMUP_EPOCHS : null,
    clipNorm: options.clipNorm === undefined ? DEFAULT_CLIP_NORM : options.clipNorm === 0 ? null : options.clipNorm,
    optimizer: (options.optimizer as OptimizerName | undefined) ?? DEFAULT_OPTIMIZER,
    validationSize: options.validationSize ?? DEFAULT_VALIDATION_SIZE,
    limit: options.limit ?? null,
    steps: options.steps ?? null,
    epochs: lengthGiven ? (options.epochs ?? null) : DEFAULT_EPOCHS,
    checkpointEvery: options.checkpointEvery ?? null,
    workers,
  }
}

/** A checkpoint's config with the fields that older checkpoints lack filled in as they trained. */
export function storedTrainingConfig(stored: Partial<TrainingConfig> & Omit<TrainingConfig, keyof typeof BEFORE_SCHEDULES>): TrainingConfig {
  return {...BEFORE_SCHEDULES, ...stored}
}

/**
 * The configuration of a resumed run: the checkpoint's, with a new length or checkpoint interval if given.
 * Any other option that differs from the checkpoint is a UserError naming the flag.
 */
export function resumedTrainingConfig(storedConfig: TrainingConfig, options: TrainingOptions, checkpointName: string): TrainingConfig {
  checkTrainingOptions(options)
  const stored = storedTrainingConfig(storedConfig)
  const clipNorm = options.clipNorm === 0 ? null : options.clipNorm
  if (clipNorm !== undefined && clipNorm !== stored.clipNorm) {
    const trainedWith = stored.clipNorm === null ? 'without clipping' : `with --clip-norm ${stored.clipNorm}`
    throw new UserError(`--clip-norm ${options.clipNorm} contradicts checkpoint ${checkpointName} (trained ${trainedWith}); drop the flag or use another --checkpoint-dir`)
  }
  for (const [key, flag] of FIXED_ON_RESUME) {
    const given = options[key]
    if (given !== undefined && given !== stored[key]) {
      const trainedWith = stored[key] === null ? `without ${flag}` : `with ${flag} ${stored[key]}`
      throw new UserError(`${flag} ${given} contradicts checkpoint ${checkpointName} (trained ${trainedWith}); drop the flag or use another --checkpoint-dir`)
    }
  }
  const lengthGiven = options.steps !== undefined || options.epochs !== undefined
  const resumed = lengthGiven ? {...stored, steps: options.steps ?? null, epochs: options.epochs ?? null} : {...stored}
  if (options.checkpointEvery !== undefined) resumed.checkpointEvery = options.checkpointEvery
  if (options.workers !== undefined) {
    if (options.workers > resumed.batchSize) throw new UserError(`--workers ${options.workers} is more than the ${resumed.batchSize} examples of a batch`)
    resumed.workers = options.workers
  }
  return resumed
}

/** Total steps the run trains for. */
export function targetSteps(config: TrainingConfig, batchesPerEpoch: number): number {
  return config.steps ?? (config.epochs ?? DEFAULT_EPOCHS) * batchesPerEpoch
}

/** The warm-up's length in steps. */
export function warmupStepsOf(config: TrainingConfig, batchesPerEpoch: number): number {
  if (config.warmupSteps !== null) return config.warmupSteps
  if (config.warmupEpochs !== null) return Math.round(config.warmupEpochs * batchesPerEpoch)
  return 0
}

/**
 * The learning rate of the step after `step` completed ones: a function of the step and the run's
 * length alone, so a resumed run follows the schedule an uninterrupted one of the same length would.
 */
export function learningRateAt(config: TrainingConfig, step: number, batchesPerEpoch: number): number {
  const {schedule, learningRate, learningRateDecay} = storedTrainingConfig(config)
  return scheduledLearningRate(
    {
      schedule,
      learningRate,
      learningRateDecay,
      warmupSteps: warmupStepsOf(storedTrainingConfig(config), batchesPerEpoch),
      totalSteps: targetSteps(config, batchesPerEpoch),
      batchesPerEpoch,
    },
    step,
  )
}

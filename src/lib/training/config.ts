import {UserError} from '../core/errors.js'
import {requireInteger, requirePositive} from '../core/validation.js'
import {DEFAULT_VALIDATION_SIZE} from '../data/mnist.js'
import {DEFAULT_HIDDEN_UNITS} from '../model/weights.js'
import {OPTIMIZER_NAMES, OptimizerName, isOptimizerName} from './optimizers.js'

/**
 * Chosen for ≥ 98.5% test accuracy with Adam at 0.001 decayed ×0.85 per epoch (about 5,100 steps);
 * one epoch alone reaches about 93% on the validation split.
 */
export const DEFAULT_EPOCHS = 12
export const DEFAULT_BATCH_SIZE = 128
export const DEFAULT_LEARNING_RATE = 0.001
/** The learning rate is multiplied by this after every epoch (1 keeps it constant). */
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
  learningRate: number
  learningRateDecay: number
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
}

/** The settings a user can give; undefined means "the default", or "as in the checkpoint" on resume. */
export interface TrainingOptions {
  hidden?: number
  seed?: number
  batchSize?: number
  learningRate?: number
  learningRateDecay?: number
  optimizer?: string
  validationSize?: number
  limit?: number
  steps?: number
  epochs?: number
  checkpointEvery?: number
}

/** Settings that must match the checkpoint on resume, with their flag names. */
const FIXED_ON_RESUME: ReadonlyArray<[keyof TrainingOptions & keyof TrainingConfig, string]> = [
  ['hidden', '--hidden'],
  ['seed', '--seed'],
  ['batchSize', '--batch-size'],
  ['learningRate', '--learning-rate'],
  ['learningRateDecay', '--learning-rate-decay'],
  ['optimizer', '--optimizer'],
  ['validationSize', '--validation-size'],
  ['limit', '--limit'],
]




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
  return {
    hidden: options.hidden ?? DEFAULT_HIDDEN_UNITS,
    seed: options.seed ?? DEFAULT_SEED,
    batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    learningRate: options.learningRate ?? DEFAULT_LEARNING_RATE,
    learningRateDecay: options.learningRateDecay ?? DEFAULT_LEARNING_RATE_DECAY,
    optimizer: (options.optimizer as OptimizerName | undefined) ?? DEFAULT_OPTIMIZER,
    validationSize: options.validationSize ?? DEFAULT_VALIDATION_SIZE,
    limit: options.limit ?? null,
    steps: options.steps ?? null,
    epochs: lengthGiven ? (options.epochs ?? null) : DEFAULT_EPOCHS,
    checkpointEvery: options.checkpointEvery ?? null,
  }
}

/**
 * The configuration of a resumed run: the checkpoint's, with a new length or checkpoint interval if given.
 * Any other option that differs from the checkpoint is a UserError naming the flag.
 */
export function resumedTrainingConfig(stored: TrainingConfig, options: TrainingOptions, checkpointName: string): TrainingConfig {
  checkTrainingOptions(options)
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
  return resumed
}

/** Total steps the run trains for. */
export function targetSteps(config: TrainingConfig, batchesPerEpoch: number): number {
  return config.steps ?? (config.epochs ?? DEFAULT_EPOCHS) * batchesPerEpoch
}

/** Exponential decay per epoch: a function of the step alone, so resumed runs follow the same schedule. */
export function learningRateAt(config: TrainingConfig, step: number, batchesPerEpoch: number): number {
  const completedEpochs = Math.floor(step / batchesPerEpoch)
  return config.learningRate * config.learningRateDecay ** completedEpochs
}

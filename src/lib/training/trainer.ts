import * as tf from '@tensorflow/tfjs'

import {BackendName} from '../backend.js'
import {Batch, DataPosition, ShuffledBatches} from '../data/batches.js'
import {ImageSet} from '../data/mnist.js'
import {ClassifierWeights, WEIGHT_NAMES, disposeClassifierWeights, weightArraysOf, weightShapes} from '../model/weights.js'
import {TrainingState} from './checkpoint.js'
import {clipArraysByGlobalNorm, clipByGlobalNorm} from './clipping.js'
import {TrainingConfig, learningRateAt, storedTrainingConfig, targetSteps} from './config.js'
import {TrainEndEvent, TrainingEvents} from './events.js'
import {batchGradients} from './gradients.js'
import {EVALUATION_BATCH_SIZE, LossAndAccuracy, Misclassified, SetScore, lossAndAccuracyOf} from './metrics.js'
import {OptimizerState, createOptimizer, optimizerStateOf, restoreOptimizerState, setLearningRate} from './optimizers.js'
import {GradientWorkerPool} from './parallel/gradient-pool.js'

const MS_PER_SECOND = 1000
/** Misclassified validation images each epochEnd carries: as many as an error grid shows. */
export const VALIDATION_ERRORS_KEPT = 100

/** Where a resumed run starts: what a checkpoint restores besides the weights. */
export interface TrainingStart {
  step: number
  dataPosition: DataPosition
  optimizer: OptimizerState
  metrics: Record<string, number>
  /** The checkpoint's name, for the trainBegin event. */
  checkpointName: string
}

export interface TrainerSetup {
  config: TrainingConfig
  train: ImageSet
  validation: ImageSet
  /** The trainer owns these from now on and disposes them in dispose(). */
  weights: ClassifierWeights
  /** Absent for a new run. */
  start?: TrainingStart
}

/** What one step did. */
interface StepResult extends LossAndAccuracy {
  /** The gradients' global norm before clipping (only computed when clipping is on). */
  gradientNorm?: number
}

/**
 * The training loop, Keras `fit` style: it trains and emits events (trainBegin, stepEnd,
 * epochEnd, checkpointSaved via the checkpointer, trainEnd) and prints nothing itself.
 * Each step: a shuffled batch, softmax cross-entropy on the classifier's logits, gradients clipped
 * by global norm (if configured), one optimizer update of the five weight tensors. Every epoch ends
 * with the loss and accuracy on the validation set.
 *
 * With one worker the main thread computes the gradients; with N > 1, N worker threads each
 * compute those of a slice of the batch (./parallel/) and the main thread applies their sum.
 */
export class Trainer extends TrainingEvents {
  readonly config: TrainingConfig
  readonly weights: ClassifierWeights
  readonly validation: ImageSet
  /** Steps done, across resumes. */
  step: number
  metrics: Record<string, number>
  private readonly batches: ShuffledBatches
  private readonly optimizer: tf.Optimizer
  /** The checkpoint this run resumed from, if any. */
  readonly resumedFrom?: string
  private currentLearningRate: number
  private stopReason?: string
  private startedAt = 0
  /** The validation split's score and the step it was taken at, so a score is not recomputed for unchanged weights. */
  private lastValidation?: SetScore & {step: number}
  /** The gradient workers, when config.workers > 1. */
  private pool?: GradientWorkerPool

  private constructor(setup: TrainerSetup) {
    super()
    this.config = storedTrainingConfig(setup.config)
    this.weights = setup.weights
    this.validation = setup.validation
    this.step = setup.start?.step ?? 0
    this.metrics = {...setup.start?.metrics}
    this.resumedFrom = setup.start?.checkpointName
    this.batches = new ShuffledBatches(setup.train, setup.config.batchSize, setup.config.seed, setup.start?.dataPosition)
    this.currentLearningRate = learningRateAt(this.config, this.step, this.batches.batchesPerEpoch)
    this.optimizer = createOptimizer(this.config.optimizer, this.currentLearningRate)
  }

  static async create(setup: TrainerSetup): Promise<Trainer> {
    const trainer = new Trainer(setup)
    try {
      if (setup.start) await restoreOptimizerState(trainer.optimizer, setup.start.optimizer)
      if (trainer.config.workers > 1) {
        trainer.pool = await GradientWorkerPool.start({workers: trainer.config.workers, backend: tf.getBackend() as BackendName, hidden: trainer.config.hidden})
      }
    } catch (error) {
      trainer.dispose()
      throw error
    }
    return trainer
  }

  /** Threads that compute gradients: the workers, or 1 (the main thread). */
  get workers(): number {
    return this.pool?.size ?? 1
  }

  get batchesPerEpoch(): number {
    return this.batches.batchesPerEpoch
  }

  get targetSteps(): number {
    return targetSteps(this.config, this.batchesPerEpoch)
  }

  /** Completed epochs. */
  get epoch(): number {
    return Math.floor(this.step / this.batchesPerEpoch)
  }

  /** Seconds since run() began. */
  get wallTime(): number {
    return (performance.now() - this.startedAt) / MS_PER_SECOND
  }

  /** Ends the run after the step in progress (for SIGINT/SIGTERM). */
  requestStop(reason: string): void {
    this.stopReason ??= reason
  }

  async run(): Promise<TrainEndEvent> {
    this.startedAt = performance.now()
    const target = this.targetSteps
    await this.emit('trainBegin', {
      config: this.config,
      startStep: this.step,
      targetSteps: target,
      batchesPerEpoch: this.batchesPerEpoch,
      trainingImages: this.config.trainingImages,
      validationImages: this.validation.count,
      resumedFrom: this.resumedFrom,
      workers: this.workers,
    })
    while (this.step < target && this.stopReason === undefined) {
      await this.trainOneStep(target)
      if (this.step % this.batchesPerEpoch === 0) await this.endEpoch()
      // Tensor work is synchronous: give signal handlers and I/O a turn between steps.
      await new Promise((resolve) => setImmediate(resolve))
    }
    const end: TrainEndEvent = {step: this.step, stopped: this.stopReason !== undefined, reason: this.stopReason, wallTime: this.wallTime}
    await this.emit('trainEnd', end)
    return end
  }

  private async trainOneStep(target: number): Promise<void> {
    const learningRate = learningRateAt(this.config, this.step, this.batchesPerEpoch)
    if (learningRate !== this.currentLearningRate) {
      setLearningRate(this.optimizer, learningRate)
      this.currentLearningRate = learningRate
    }
    const began = performance.now()
    const batch = this.batches.next()
    const {loss, accuracy, gradientNorm} = this.pool ? await this.applyPooledBatch(this.pool, batch) : this.applyBatch(batch)
    const seconds = (performance.now() - began) / MS_PER_SECOND
    this.step += 1
    this.metrics = {...this.metrics, loss, accuracy, learningRate}
    await this.emit('stepEnd', {
      step: this.step,
      epoch: Math.floor((this.step - 1) / this.batchesPerEpoch) + 1,
      targetSteps: target,
      loss,
      accuracy,
      learningRate,
      examplesPerSecond: batch.size / seconds,
      wallTime: this.wallTime,
      workers: this.workers,
      ...(gradientNorm === undefined ? {} : {gradientNorm}),
    })
  }

  /** One optimizer update on a batch, gradients from the main thread; returns the batch's loss and accuracy before the update. */
  private applyBatch(batch: Batch): StepResult {
    let gradientNorm: number | undefined
    const [lossTensor, accuracyTensor] = tf.tidy(() => {
      const {loss, accuracy, gradients} = batchGradients(this.weights, batch.images, batch.labels, batch.size)
      gradientNorm = this.applyGradients(gradients)
      return [loss, accuracy]
    })
    const result = {loss: lossTensor.dataSync()[0], accuracy: accuracyTensor.dataSync()[0], gradientNorm}
    tf.dispose([lossTensor, accuracyTensor])
    return result
  }

  /** The same update, gradients from the workers. */
  private async applyPooledBatch(pool: GradientWorkerPool, batch: Batch): Promise<StepResult> {
    const {gradients, loss, accuracy} = await pool.gradients(weightArraysOf(this.weights), batch)
    const clipNorm = this.config.clipNorm
    const gradientNorm = clipNorm === null ? undefined : clipArraysByGlobalNorm(WEIGHT_NAMES.map((name) => gradients[name]), clipNorm)
    const shapes = weightShapes(this.config.hidden)
    tf.tidy(() => this.applyGradients(WEIGHT_NAMES.map((name) => tf.tensor(gradients[name], shapes[name])), false))
    return {loss, accuracy, gradientNorm}
  }

  /** Clips (if configured and asked) and applies gradients given in WEIGHT_NAMES order; returns their norm when clipping. Call inside tf.tidy. */
  private applyGradients(gradients: tf.Tensor[], clip = true): number | undefined {
    let applied = gradients
    let gradientNorm: number | undefined
    if (clip && this.config.clipNorm !== null) {
      const {clipped, globalNorm} = clipByGlobalNorm(gradients, this.config.clipNorm)
      applied = clipped
      gradientNorm = globalNorm
    }
    // In the weights' fixed order, which is also the order of the optimizer's stored slots.
    this.optimizer.applyGradients(WEIGHT_NAMES.map((name, index) => ({name: this.weights[name].name, tensor: applied[index]})))
    return gradientNorm
  }

  /** Loss and accuracy on the validation split with the current weights (scored once per step). */
  validationScore(): LossAndAccuracy {
    const {loss, accuracy} = this.scoreValidation()
    return {loss, accuracy}
  }

  private scoreValidation(): SetScore {
    if (this.lastValidation?.step !== this.step) {
      this.lastValidation = {step: this.step, ...lossAndAccuracyOf(this.weights, this.validation, EVALUATION_BATCH_SIZE, VALIDATION_ERRORS_KEPT)}
    }
    return this.lastValidation
  }

  private async endEpoch(): Promise<void> {
    let validation: {validationLoss: number; validationAccuracy: number} | undefined
    let validationErrors: Misclassified[] | undefined
    if (this.validation.count > 0) {
      const score = this.scoreValidation()
      validation = {validationLoss: score.loss, validationAccuracy: score.accuracy}
      validationErrors = score.misclassified
      this.metrics = {...this.metrics, ...validation}
    }
    await this.emit('epochEnd', {epoch: this.epoch, step: this.step, ...validation, validationErrors, weights: this.weights, wallTime: this.wallTime})
  }

  /** Everything a checkpoint stores, copied out of the tensors. */
  async snapshot(): Promise<TrainingState> {
    const arrays = weightArraysOf(this.weights)
    for (const name of WEIGHT_NAMES) arrays[name] = arrays[name].slice()
    return {
      step: this.step,
      epoch: this.epoch,
      dataPosition: this.batches.currentPosition,
      config: this.config,
      metrics: {...this.metrics},
      weights: arrays,
      optimizer: await optimizerStateOf(this.optimizer, this.config.optimizer),
    }
  }

  /** Frees the weights and the optimizer, and ends the gradient workers. */
  dispose(): void {
    void this.pool?.close()
    this.pool = undefined
    this.optimizer.dispose()
    disposeClassifierWeights(this.weights)
  }
}

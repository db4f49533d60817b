import {ClassifierWeights} from '../model/weights.js'
import {TrainingConfig} from './config.js'
import {Misclassified} from './metrics.js'

export interface TrainBeginEvent {
  config: TrainingConfig
  /** Steps already done (0 for a new run, the checkpoint's step on resume). */
  startStep: number
  targetSteps: number
  batchesPerEpoch: number
  trainingImages: number
  validationImages: number
  /** The checkpoint resumed from, if any. */
  resumedFrom?: string
  /** Threads computing each step's gradients (1: the main thread alone). */
  workers?: number
}

export interface StepEndEvent {
  /** Steps done so far, counting this one (1-based, across resumes). */
  step: number
  /** The epoch this step belongs to, 1-based. */
  epoch: number
  targetSteps: number
  loss: number
  accuracy: number
  learningRate: number
  /** This step's examples over its wall time (gradients, update and data together). */
  examplesPerSecond: number
  /** Seconds since this process began training. */
  wallTime: number
  /** Threads that computed this step's gradients. */
  workers?: number
  /** The gradients' global norm before clipping, when clipping is on. */
  gradientNorm?: number
}

export interface EpochEndEvent {
  /** The epoch just finished, 1-based. */
  epoch: number
  step: number
  /** Absent when the validation split is empty. */
  validationLoss?: number
  validationAccuracy?: number
  /** The first misclassified validation images (at most VALIDATION_ERRORS_KEPT), for displays. */
  validationErrors?: Misclassified[]
  /** The live weights at the epoch's end, for listeners that look at them: read them, never change or dispose them. */
  weights: ClassifierWeights
  wallTime: number
}

export interface CheckpointSavedEvent {
  step: number
  name: string
  path: string
  wallTime: number
}

export interface TrainEndEvent {
  step: number
  /** True when stopped early by requestStop (a signal), false when the target was reached. */
  stopped: boolean
  reason?: string
  wallTime: number
}

export interface TrainingEventMap {
  trainBegin: TrainBeginEvent
  stepEnd: StepEndEvent
  epochEnd: EpochEndEvent
  checkpointSaved: CheckpointSavedEvent
  trainEnd: TrainEndEvent
}

export type TrainingEventName = keyof TrainingEventMap
export type TrainingListener<E extends TrainingEventName> = (event: TrainingEventMap[E]) => void | Promise<void>

/**
 * Typed events whose listeners may be async (saving a checkpoint is): `emit` awaits each listener
 * in the order they were added, like Keras callbacks, so the loop never runs ahead of a save.
 */
export class TrainingEvents {
  private readonly listeners: {[E in TrainingEventName]: Array<TrainingListener<E>>} = {
    trainBegin: [],
    stepEnd: [],
    epochEnd: [],
    checkpointSaved: [],
    trainEnd: [],
  }

  on<E extends TrainingEventName>(event: E, listener: TrainingListener<E>): this {
    this.listeners[event].push(listener)
    return this
  }

  /** Adds a listener that runs before those already added (EventEmitter's prependListener). */
  prepend<E extends TrainingEventName>(event: E, listener: TrainingListener<E>): this {
    this.listeners[event].unshift(listener)
    return this
  }

  async emit<E extends TrainingEventName>(event: E, payload: TrainingEventMap[E]): Promise<void> {
    for (const listener of this.listeners[event]) await listener(payload)
  }
}

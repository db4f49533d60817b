/**
 * Learning-rate schedules: the learning rate of every step as a function of the step alone (and
 * the run's length), so that a resumed run follows the schedule an uninterrupted one would.
 *
 *   constant     the peak learning rate throughout
 *   exponential  multiplied by the decay after every completed epoch (the original recipe)
 *   cosine       half a cosine from the peak down to zero at the run's last step (SGDR without
 *                restarts, Loshchilov & Hutter 2017)
 *
 * Any of them may start with a linear warm-up: step s < W runs at peak·(s + 1)/W.
 */
export const SCHEDULE_NAMES = ['constant', 'exponential', 'cosine'] as const
export type ScheduleName = (typeof SCHEDULE_NAMES)[number]

export function isScheduleName(name: string): name is ScheduleName {
  return (SCHEDULE_NAMES as readonly string[]).includes(name)
}

export interface ScheduleSettings {
  schedule: ScheduleName
  /** The peak learning rate (reached after the warm-up). */
  learningRate: number
  /** Per completed epoch; only the exponential schedule uses it. */
  learningRateDecay: number
  /** Length of the linear warm-up in steps (0: none). */
  warmupSteps: number
  /** Steps the run trains for in total: where the cosine reaches zero. */
  totalSteps: number
  batchesPerEpoch: number
}

/** The learning rate of the step that follows `step` completed steps. */
export function scheduledLearningRate(settings: ScheduleSettings, step: number): number {
  const {schedule, learningRate, learningRateDecay, warmupSteps, totalSteps, batchesPerEpoch} = settings
  if (step < warmupSteps) return (learningRate * (step + 1)) / warmupSteps
  switch (schedule) {
    case 'constant':
      return learningRate
    case 'exponential':
      return learningRate * learningRateDecay ** Math.floor(step / batchesPerEpoch)
    case 'cosine': {
      const decaySteps = totalSteps - warmupSteps
      if (decaySteps <= 0) return learningRate
      const progress = Math.min(1, (step - warmupSteps) / decaySteps)
      return 0.5 * learningRate * (1 + Math.cos(Math.PI * progress))
    }
  }
}

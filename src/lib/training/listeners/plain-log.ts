import {warmupStepsOf} from '../config.js'
import {TrainBeginEvent, TrainingEvents} from '../events.js'

export type LineWriter = (line: string) => void

/** The seed's number formats: loss to 4 places, accuracy to 3. */
export function formatLoss(loss: number): string {
  return loss.toFixed(4)
}

export function formatAccuracy(accuracy: number): string {
  return accuracy.toFixed(3)
}

/** How the learning rate moves, e.g. "learning rate 0.005 (warm-up 215 steps, cosine decay), clip norm 1". */
export function describeSchedule(config: TrainBeginEvent['config'], batchesPerEpoch: number): string {
  const schedule = config.schedule ?? 'exponential'
  const parts: string[] = []
  const warmup = warmupStepsOf(config, batchesPerEpoch)
  if (warmup > 0) parts.push(`warm-up ${warmup} step${warmup === 1 ? '' : 's'}`)
  if (schedule === 'cosine') parts.push('cosine decay')
  const decay = schedule === 'exponential' && config.learningRateDecay !== 1 ? ` × ${config.learningRateDecay} per epoch` : ''
  const shape = parts.length > 0 ? ` (${parts.join(', ')})` : ''
  const clip = config.clipNorm == null ? '' : `, clip norm ${config.clipNorm}`
  return `learning rate ${config.learningRate}${decay}${shape}${clip}`
}

export function describeRun(event: TrainBeginEvent, checkpointDir: string): string {
  const {config} = event
  const workers = event.workers === undefined ? '' : `, ${event.workers} worker${event.workers === 1 ? '' : 's'}`
  const what =
    `LSTM ${config.hidden} units, ${config.optimizer} at ${describeSchedule(config, event.batchesPerEpoch)}, batch ${config.batchSize}, ` +
    `${event.trainingImages} training / ${event.validationImages} validation images, ${event.batchesPerEpoch} steps per epoch${workers}`
  const length = config.epochs === null ? `${event.targetSteps} steps` : `${config.epochs} epoch${config.epochs === 1 ? '' : 's'} (${event.targetSteps} steps)`
  return event.resumedFrom
    ? `Resuming from ${checkpointDir}/${event.resumedFrom} at step ${event.startStep} of ${length}: ${what}`
    : `Training for ${length}: ${what}`
}

export function validationLine(epoch: number, loss: number | undefined, accuracy: number | undefined): string {
  if (loss === undefined || accuracy === undefined) return `Epoch ${epoch} done (no validation images)`
  return `Epoch ${epoch}, Validation Loss= ${formatLoss(loss)}, Validation Accuracy= ${formatAccuracy(accuracy)}`
}

/**
 * Plain lines for logs and CI, in the seed's style, on the first step and every `displayStep` steps:
 * `Step 200, Minibatch Loss= 0.5125, Training Accuracy= 0.836, Examples/s= 2210` (examples per
 * second of wall time since the previous line); validation after every epoch.
 */
export function attachPlainLog(events: TrainingEvents, write: LineWriter, options: {displayStep: number; checkpointDir: string}): void {
  let firstStep = 0
  let batchSize = 0
  let last = {step: 0, wallTime: 0}
  events.on('trainBegin', (event) => {
    firstStep = event.startStep + 1
    batchSize = event.config.batchSize
    last = {step: event.startStep, wallTime: 0}
    write(describeRun(event, options.checkpointDir))
  })
  events.on('stepEnd', ({step, loss, accuracy, examplesPerSecond, wallTime}) => {
    if (step === firstStep || step % options.displayStep === 0) {
      const seconds = wallTime - last.wallTime
      const speed = step === firstStep || !(seconds > 0) ? examplesPerSecond : ((step - last.step) * batchSize) / seconds
      last = {step, wallTime}
      write(`Step ${step}, Minibatch Loss= ${formatLoss(loss)}, Training Accuracy= ${formatAccuracy(accuracy)}, Examples/s= ${Math.round(speed)}`)
    }
  })
  events.on('epochEnd', ({epoch, validationLoss, validationAccuracy}) => write(validationLine(epoch, validationLoss, validationAccuracy)))
  events.on('checkpointSaved', ({path}) => write(`Saved checkpoint ${path}`))
}

import {TrainBeginEvent, TrainingEvents} from '../events.js'

export type LineWriter = (line: string) => void

/** The seed's number formats: loss to 4 places, accuracy to 3. */
export function formatLoss(loss: number): string {
  return loss.toFixed(4)
}

export function formatAccuracy(accuracy: number): string {
  return accuracy.toFixed(3)
}

export function describeRun(event: TrainBeginEvent, checkpointDir: string): string {
  const {config} = event
  const decay = config.learningRateDecay === 1 ? '' : ` × ${config.learningRateDecay} per epoch`
  const what =
    `LSTM ${config.hidden} units, ${config.optimizer} at learning rate ${config.learningRate}${decay}, batch ${config.batchSize}, ` +
    `${event.trainingImages} training / ${event.validationImages} validation images, ${event.batchesPerEpoch} steps per epoch`
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
 * `Step 200, Minibatch Loss= 0.5125, Training Accuracy= 0.836`; validation after every epoch.
 */
export function attachPlainLog(events: TrainingEvents, write: LineWriter, options: {displayStep: number; checkpointDir: string}): void {
  let firstStep = 0
  events.on('trainBegin', (event) => {
    firstStep = event.startStep + 1
    write(describeRun(event, options.checkpointDir))
  })
  events.on('stepEnd', ({step, loss, accuracy}) => {
    if (step === firstStep || step % options.displayStep === 0) {
      write(`Step ${step}, Minibatch Loss= ${formatLoss(loss)}, Training Accuracy= ${formatAccuracy(accuracy)}`)
    }
  })
  events.on('epochEnd', ({epoch, validationLoss, validationAccuracy}) => write(validationLine(epoch, validationLoss, validationAccuracy)))
  events.on('checkpointSaved', ({path}) => write(`Saved checkpoint ${path}`))
}

import chalk from 'chalk'
import cliProgress from 'cli-progress'

import {TrainingEvents} from '../events.js'
import {describeRun, formatAccuracy, formatLoss, validationLine} from './plain-log.js'

const BAR_FORMAT =
  `${chalk.cyan('{bar}')} {percentage}% | epoch {epoch}/{epochs} | step {value}/{total} | ` +
  `loss ${chalk.yellow('{loss}')} | acc ${chalk.green('{accuracy}')} | {speed} ex/s | ETA {eta_formatted}`
const REDRAWS_PER_SECOND = 5
/** Steps over which the ETA's speed is averaged. */
const ETA_WINDOW_STEPS = 50

/**
 * The TTY display: one colour progress bar over the whole run (on stderr), with validation
 * results and saved checkpoints printed above it as they happen.
 */
export function attachProgressBar(events: TrainingEvents, options: {checkpointDir: string; stream?: NodeJS.WriteStream}): void {
  const stream = options.stream ?? process.stderr
  const multibar = new cliProgress.MultiBar(
    {format: BAR_FORMAT, hideCursor: true, fps: REDRAWS_PER_SECOND, stream, etaBuffer: ETA_WINDOW_STEPS, gracefulExit: false},
    cliProgress.Presets.shades_classic,
  )
  let bar: cliProgress.SingleBar | undefined
  let epochs = 0
  const log = (line: string) => multibar.log(`${line}\n`)

  events.on('trainBegin', (event) => {
    epochs = Math.ceil(event.targetSteps / event.batchesPerEpoch)
    log(chalk.bold(describeRun(event, options.checkpointDir)))
    bar = multibar.create(event.targetSteps, event.startStep, {
      epoch: Math.floor(event.startStep / event.batchesPerEpoch) + 1,
      epochs,
      loss: '-',
      accuracy: '-',
      speed: '-',
    })
  })
  events.on('stepEnd', ({step, epoch, loss, accuracy, examplesPerSecond}) => {
    bar?.update(step, {epoch, epochs, loss: formatLoss(loss), accuracy: formatAccuracy(accuracy), speed: Math.round(examplesPerSecond)})
  })
  events.on('epochEnd', ({epoch, validationLoss, validationAccuracy}) => log(chalk.green(validationLine(epoch, validationLoss, validationAccuracy))))
  events.on('checkpointSaved', ({path}) => log(chalk.dim(`Saved checkpoint ${path}`)))
  events.on('trainEnd', () => {
    multibar.update() // flushes lines logged since the last redraw, which stop() would drop
    multibar.stop()
  })
}

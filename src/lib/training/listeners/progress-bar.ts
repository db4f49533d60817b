import chalk from 'chalk'
import cliProgress from 'cli-progress'

import {TrainingEvents} from '../events.js'
import {describeRun, formatAccuracy, formatLoss, validationLine} from './plain-log.js'

const BAR_FORMAT =
  `${chalk.cyan('{bar}')} {percentage}% | epoch {epoch}/{epochs} | step {value}/{total} | ` +
  `loss ${chalk.yellow('{loss}')} | acc ${chalk.green('{accuracy}')} | {speed} ex/s on {workers} | ETA {eta_formatted}`
const REDRAWS_PER_SECOND = 5
/** Steps over which the ETA's speed is averaged. */
const ETA_WINDOW_STEPS = 50
/** Weight of the newest step in the displayed examples/s (an exponential moving average of time per example). */
const SPEED_SMOOTHING = 0.1

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
  let workers = '1 thread'
  let secondsPerExample: number | undefined
  const log = (line: string) => multibar.log(`${line}\n`)

  events.on('trainBegin', (event) => {
    epochs = Math.ceil(event.targetSteps / event.batchesPerEpoch)
    const count = event.workers ?? 1
    workers = count === 1 ? '1 thread' : `${count} workers`
    log(chalk.bold(describeRun(event, options.checkpointDir)))
    bar = multibar.create(event.targetSteps, event.startStep, {
      epoch: Math.floor(event.startStep / event.batchesPerEpoch) + 1,
      epochs,
      loss: '-',
      accuracy: '-',
      speed: '-',
      workers,
    })
  })
  events.on('stepEnd', ({step, epoch, loss, accuracy, examplesPerSecond}) => {
    const latest = 1 / examplesPerSecond
    secondsPerExample = secondsPerExample === undefined ? latest : secondsPerExample + SPEED_SMOOTHING * (latest - secondsPerExample)
    const speed = Math.round(1 / secondsPerExample)
    bar?.update(step, {epoch, epochs, loss: formatLoss(loss), accuracy: formatAccuracy(accuracy), speed, workers})
  })
  events.on('epochEnd', ({epoch, validationLoss, validationAccuracy}) => log(chalk.green(validationLine(epoch, validationLoss, validationAccuracy))))
  events.on('checkpointSaved', ({path}) => log(chalk.dim(`Saved checkpoint ${path}`)))
  events.on('trainEnd', () => {
    multibar.update() // flushes lines logged since the last redraw, which stop() would drop
    multibar.stop()
  })
}

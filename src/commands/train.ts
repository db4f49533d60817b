import {Flags} from '@oclif/core'

import {MnistCommand, backendFlag, dataDirFlag, numberFlag} from '../lib/cli/base-command.js'
import {DEFAULT_VALIDATION_SIZE} from '../lib/data/mnist.js'
import {DEFAULT_HIDDEN_UNITS} from '../lib/model/weights.js'
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_CHECKPOINT_DIR,
  DEFAULT_CLIP_NORM,
  DEFAULT_DISPLAY_STEP,
  DEFAULT_EPOCHS,
  DEFAULT_KEEP,
  DEFAULT_LEARNING_RATE,
  DEFAULT_LEARNING_RATE_DECAY,
  DEFAULT_OPTIMIZER,
  DEFAULT_SCHEDULE,
  DEFAULT_SEED,
  DEFAULT_WARMUP_EPOCHS,
  checkTrainingOptions,
} from '../lib/training/config.js'
import {SCHEDULE_NAMES} from '../lib/training/schedule.js'
import {requireInteger} from '../lib/core/validation.js'
import {JsonLinesLog} from '../lib/training/listeners/json-log.js'
import {attachPlainLog, formatAccuracy, formatLoss} from '../lib/training/listeners/plain-log.js'
import {attachProgressBar} from '../lib/training/listeners/progress-bar.js'
import {OPTIMIZER_NAMES} from '../lib/training/optimizers.js'
import {ReportResult} from '../lib/jobs/report.js'
import {
  TrainingReporter,
  TrainingRunOptions,
  TrainingSummary,
  attachTensorBoardLog,
  prepareTraining,
  resumeCommandLine,
  summarizeTraining,
} from '../lib/jobs/train.js'
import {SIGNAL_EXIT_CODES, stopTrainingOnSignals} from '../lib/training/signals.js'

export default class Train extends MnistCommand {
  static description =
    'Train the LSTM classifier on MNIST (each image read as 28 rows of 28 pixels), writing checkpoints that a stopped or crashed run resumes from'

  static examples = [
    '<%= config.bin %> train',
    '<%= config.bin %> train --limit 4096 --steps 60 --checkpoint-every 30 --checkpoint-dir D',
    '<%= config.bin %> train --resume --steps 90 --checkpoint-dir D',
    '<%= config.bin %> train --optimizer sgd --learning-rate 0.1 --epochs 20 --log-file train.jsonl',
    '<%= config.bin %> train --log-file train.jsonl --tensorboard logs --report report.html',
    {description: 'Another peak learning rate, warm-up and clipping norm', command: '<%= config.bin %> train --learning-rate 0.003 --warmup-epochs 1 --clip-norm 5 --epochs 10'},
    {description: 'On the main thread alone (no gradient workers)', command: '<%= config.bin %> train --workers 1'},
    {description: "The seed tutorial's recipe: plain SGD at a constant 0.001, no clipping", command: '<%= config.bin %> train --optimizer sgd --learning-rate 0.001 --schedule constant --clip-norm 0'},
  ]

  static flags = {
    epochs: numberFlag({description: `epochs to train in total (default ${DEFAULT_EPOCHS} unless --steps is given)`}),
    steps: numberFlag({description: 'steps (batches) to train in total, counting those of a resumed run; instead of --epochs'}),
    'batch-size': numberFlag({description: `examples per step (default ${DEFAULT_BATCH_SIZE})`}),
    'learning-rate': numberFlag({description: `peak learning rate, reached after the warm-up (default ${DEFAULT_LEARNING_RATE})`}),
    schedule: Flags.string({
      description:
        `learning-rate schedule after the warm-up: ${SCHEDULE_NAMES.join(', ')} (default ${DEFAULT_SCHEDULE}: half a cosine down to 0 at the last step; ` +
        'exponential if only --learning-rate-decay is given)',
      helpValue: 'NAME',
    }),
    'warmup-steps': numberFlag({description: 'rise linearly to the learning rate over the first N steps (default: see --warmup-epochs)'}),
    'warmup-epochs': numberFlag({
      description: `the warm-up in epochs, fractions allowed, instead of --warmup-steps (default ${DEFAULT_WARMUP_EPOCHS} for the cosine schedule, 0 for the others)`,
    }),
    'learning-rate-decay': numberFlag({
      description: `exponential schedule: multiply the learning rate by this after every epoch, in (0, 1] (default ${DEFAULT_LEARNING_RATE_DECAY})`,
    }),
    'clip-norm': numberFlag({description: `clip the gradients to this global norm; 0 turns clipping off (default ${DEFAULT_CLIP_NORM})`}),
    workers: numberFlag({
      description: `worker threads that each compute the gradients of a slice of every batch; 1 trains on the main thread alone (default on wasm and cpu: one per core, at most 4; 1 on the native backend; a resumed run keeps its count)`,
    }),
    optimizer: Flags.string({description: `${OPTIMIZER_NAMES.join(', ')} (default ${DEFAULT_OPTIMIZER})`, helpValue: 'NAME'}),
    hidden: numberFlag({description: `LSTM units (default ${DEFAULT_HIDDEN_UNITS})`}),
    seed: numberFlag({description: `seed of the initial weights and of the data order (default ${DEFAULT_SEED})`}),
    'validation-size': numberFlag({
      description: `images held out from the end of the training set to validate after each epoch (default ${DEFAULT_VALIDATION_SIZE})`,
    }),
    limit: numberFlag({description: 'train on the first N training images only (quick runs)'}),
    'display-step': numberFlag({description: `without a terminal, print a line every N steps (default ${DEFAULT_DISPLAY_STEP})`}),
    'checkpoint-dir': Flags.string({description: 'where checkpoints go', default: DEFAULT_CHECKPOINT_DIR, helpValue: 'DIR'}),
    'checkpoint-every': numberFlag({description: 'save a checkpoint every N steps (default: after every epoch)'}),
    keep: numberFlag({description: `keep the newest N checkpoints (default ${DEFAULT_KEEP})`}),
    resume: Flags.boolean({description: 'continue from the latest checkpoint in --checkpoint-dir', default: false}),
    'log-file': Flags.string({description: 'append one JSON line per step, epoch and checkpoint to FILE', helpValue: 'FILE'}),
    tensorboard: Flags.string({
      description: 'write TensorBoard event files to DIR/train and DIR/validation, on every backend (view with: tensorboard --logdir DIR)',
      helpValue: 'DIR',
    }),
    report: Flags.string({description: 'when training ends, write a self-contained HTML report (curves, test-set evaluation) to FILE', helpValue: 'FILE'}),
    'data-dir': dataDirFlag,
    backend: backendFlag,
  }

  async run(): Promise<TrainingSummary & {backend: string; report?: ReportResult}> {
    const {flags} = await this.parse(Train)
    const options: TrainingRunOptions = {
      epochs: flags.epochs,
      steps: flags.steps,
      batchSize: flags['batch-size'],
      learningRate: flags['learning-rate'],
      learningRateDecay: flags['learning-rate-decay'],
      schedule: flags.schedule,
      warmupSteps: flags['warmup-steps'],
      warmupEpochs: flags['warmup-epochs'],
      clipNorm: flags['clip-norm'],
      workers: flags.workers,
      optimizer: flags.optimizer,
      hidden: flags.hidden,
      seed: flags.seed,
      validationSize: flags['validation-size'],
      limit: flags.limit,
      checkpointDir: flags['checkpoint-dir'],
      checkpointEvery: flags['checkpoint-every'],
      keep: flags.keep,
      resume: flags.resume,
      dataDir: flags['data-dir'],
    }
    checkTrainingOptions(options)
    requireInteger(flags['display-step'], '--display-step', 1)
    const backend = await this.useBackend(flags.backend)
    const checkpointDir = options.checkpointDir
    const reporter =
      flags.report === undefined
        ? undefined
        : new TrainingReporter({out: flags.report, logFile: flags['log-file'], checkpointDir, dataDir: options.dataDir, backend, toolkitVersion: this.config.version})
    const trainer = await prepareTraining(options, (events) => {
      if (!this.jsonEnabled()) {
        if (process.stdout.isTTY && process.stderr.isTTY) attachProgressBar(events, {checkpointDir})
        else attachPlainLog(events, (line) => this.log(line), {displayStep: flags['display-step'] ?? DEFAULT_DISPLAY_STEP, checkpointDir})
      }
      if (flags['log-file']) new JsonLinesLog(flags['log-file']).attach(events)
      if (flags.tensorboard !== undefined) attachTensorBoardLog(events, flags.tensorboard)
      reporter?.attach(events)
    })
    const signals = stopTrainingOnSignals(trainer)
    try {
      const end = await trainer.run()
      // From here a signal ends the process as usual (the report is written after training).
      signals.dispose()
      const summary = summarizeTraining(trainer, end, {checkpointDir, dataDir: options.dataDir})
      const signal = signals.received()
      if (signal) {
        this.log(`Stopped by ${signal} at step ${summary.step}${summary.checkpoint ? `; checkpoint ${summary.checkpoint}` : ''}`)
        this.log(`Resume with: ${resumeCommandLine(this.config.bin, {checkpointDir, dataDir: options.dataDir})}`)
        process.exitCode = SIGNAL_EXIT_CODES[signal]
      } else {
        this.log('Optimization Finished!')
        if (summary.test) this.log(`Testing Accuracy (first ${summary.test.images} test images): ${formatAccuracy(summary.test.accuracy)}`)
        if (summary.validation) {
          this.log(
            `Validation Accuracy (${summary.validation.images} images): ${formatAccuracy(summary.validation.accuracy)}, Loss= ${formatLoss(summary.validation.loss)}`,
          )
        }
        this.log(`Checkpoint: ${summary.checkpoint ?? 'none written'}`)
      }
      const report = await reporter?.write(trainer, summary)
      if (report) this.log(`Report: ${report.path}`)
      return {backend, ...summary, ...(report ? {report} : {})}
    } finally {
      signals.dispose()
      trainer.dispose()
    }
  }
}

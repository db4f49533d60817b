/**
 * What `train --tensorboard` costs a training step, on wasm.
 *
 *   npm run bench:tensorboard [-- --rounds 3] [--steps 40] [--json]
 *
 * 1. Whole training steps: the real training loop (batch 128, 128 units, Adam, on MNIST's first
 *    images, one epoch = --steps steps with a 500-image validation split), with and without the
 *    TensorBoard listener, in alternating rounds so that machine load hits both alike. The figure
 *    is the median time between consecutive stepEnd events, the step-to-step time a user sees.
 * 2. The listener alone: what one stepEnd (4 scalars → one Event record) and one epochEnd (5 weight
 *    histograms, 2 scalars per run, a PNG of 100 misclassified digits) cost when emitted directly.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

import {selectBackend} from '../src/lib/backend.js'
import {headOf, loadMnistSplit, rangeOf} from '../src/lib/data/mnist.js'
import {errorGridPng} from '../src/lib/evaluation/errors-png.js'
import {attachTensorBoardLog} from '../src/lib/jobs/train.js'
import {DEFAULT_HIDDEN_UNITS, createClassifierWeights, disposeClassifierWeights} from '../src/lib/model/weights.js'
import {newTrainingConfig} from '../src/lib/training/config.js'
import {TrainingEvents} from '../src/lib/training/events.js'
import {Misclassified} from '../src/lib/training/metrics.js'
import {attachTensorBoard} from '../src/lib/training/tensorboard/listener.js'
import {Trainer} from '../src/lib/training/trainer.js'
import {fixed, formatTable, median, WEIGHTS_SEED} from './helpers.js'

const BATCH_SIZE = 128
const VALIDATION_IMAGES = 500
const LISTENER_STEPS = 2000
const LISTENER_EPOCHS = 5
const MISCLASSIFIED_SHOWN = 100

const {values} = parseArgs({
  options: {
    rounds: {type: 'string', default: '3'},
    steps: {type: 'string', default: '40'},
    json: {type: 'boolean', default: false},
  },
})
const rounds = Number(values.rounds)
const steps = Number(values.steps)

const backend = await selectBackend('wasm')
const all = loadMnistSplit('train', undefined, steps * BATCH_SIZE + VALIDATION_IMAGES)
const train = headOf(all, steps * BATCH_SIZE)
const validation = rangeOf(all, steps * BATCH_SIZE, all.count)
const scratch = mkdtempSync(join(tmpdir(), 'mnist-rnn-bench-tensorboard-'))

/** Step-to-step times (ms) of one run of `steps` steps, the first step left out (warm-up). */
async function trainingStepTimes(withTensorBoard: boolean, round: number): Promise<number[]> {
  const config = {...newTrainingConfig({steps, batchSize: BATCH_SIZE, validationSize: VALIDATION_IMAGES}), trainingImages: train.count}
  const trainer = await Trainer.create({config, train, validation, weights: createClassifierWeights(DEFAULT_HIDDEN_UNITS, WEIGHTS_SEED)})
  if (withTensorBoard) attachTensorBoardLog(trainer, join(scratch, `round-${round}`))
  const ends: number[] = []
  trainer.on('stepEnd', () => {
    ends.push(performance.now())
  })
  await trainer.run()
  trainer.dispose()
  return ends.slice(1).map((end, index) => end - ends[index]).slice(0, -1)
}

/** Microseconds per stepEnd and milliseconds per epochEnd of the listener alone. */
async function listenerCost(): Promise<{stepMicroseconds: number; epochMilliseconds: number}> {
  const events = new TrainingEvents()
  attachTensorBoard(events, {dir: join(scratch, 'listener'), errorGridPng})
  const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, WEIGHTS_SEED)
  const config = {...newTrainingConfig({steps: LISTENER_STEPS}), trainingImages: train.count}
  await events.emit('trainBegin', {config, startStep: 0, targetSteps: LISTENER_STEPS, batchesPerEpoch: LISTENER_STEPS, trainingImages: 1, validationImages: 1})
  const step = {epoch: 1, targetSteps: LISTENER_STEPS, loss: 0.5, accuracy: 0.9, learningRate: 0.001, examplesPerSecond: 1000, wallTime: 1}
  let started = performance.now()
  for (let i = 1; i <= LISTENER_STEPS; i++) await events.emit('stepEnd', {...step, step: i})
  const stepMicroseconds = ((performance.now() - started) * 1000) / LISTENER_STEPS
  const validationErrors: Misclassified[] = Array.from({length: MISCLASSIFIED_SHOWN}, (_, index) => ({
    index,
    label: train.labels[index],
    predicted: (train.labels[index] + 1) % 10,
    image: train.images.subarray(index * 784, (index + 1) * 784),
  }))
  started = performance.now()
  for (let epoch = 1; epoch <= LISTENER_EPOCHS; epoch++) {
    await events.emit('epochEnd', {epoch, step: epoch, validationLoss: 0.3, validationAccuracy: 0.9, validationErrors, weights, wallTime: 1})
  }
  const epochMilliseconds = (performance.now() - started) / LISTENER_EPOCHS
  await events.emit('trainEnd', {step: LISTENER_STEPS, stopped: false, wallTime: 1})
  disposeClassifierWeights(weights)
  return {stepMicroseconds, epochMilliseconds}
}

try {
  const times = {without: [] as number[], with: [] as number[]}
  await trainingStepTimes(false, -1) // warm-up: kernels, JIT
  for (let round = 0; round < rounds; round++) {
    times.without.push(...(await trainingStepTimes(false, round)))
    times.with.push(...(await trainingStepTimes(true, round)))
  }
  const listener = await listenerCost()
  const result = {
    backend,
    batchSize: BATCH_SIZE,
    hidden: DEFAULT_HIDDEN_UNITS,
    stepsMeasured: times.without.length,
    msPerStepWithout: median(times.without),
    msPerStepWith: median(times.with),
    listenerMicrosecondsPerStep: listener.stepMicroseconds,
    listenerMillisecondsPerEpoch: listener.epochMilliseconds,
  }
  if (values.json) {
    console.log(JSON.stringify(result, null, 2))
  } else {
    console.log(
      `Training step on ${backend}: batch ${BATCH_SIZE}, ${DEFAULT_HIDDEN_UNITS} units, Adam; median step-to-step time over ${result.stepsMeasured} steps each, ${rounds} alternating rounds.`,
    )
    console.log(
      formatTable(
        ['', 'ms/step (median)'],
        [
          ['without --tensorboard', fixed(result.msPerStepWithout)],
          ['with --tensorboard', fixed(result.msPerStepWith)],
          ['difference', `${fixed(result.msPerStepWith - result.msPerStepWithout)} (${fixed(((result.msPerStepWith - result.msPerStepWithout) / result.msPerStepWithout) * 100)}%)`],
        ],
      ),
    )
    console.log(
      `Listener alone: ${fixed(result.listenerMicrosecondsPerStep)} µs per step (4 scalars, one record), ` +
        `${fixed(result.listenerMillisecondsPerEpoch)} ms per epoch (5 histograms of ${DEFAULT_HIDDEN_UNITS}-unit weights, scalars, a ${MISCLASSIFIED_SHOWN}-digit PNG).`,
    )
  }
} finally {
  rmSync(scratch, {recursive: true, force: true})
}

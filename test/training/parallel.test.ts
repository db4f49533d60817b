import * as tf from '@tensorflow/tfjs'
import {describe, expect, it} from 'vitest'

import {ShuffledBatches} from '../../src/lib/data/batches.js'
import {loadMnistSplit, splitValidation} from '../../src/lib/data/mnist.js'
import {classifierLogits, imagesTensor} from '../../src/lib/model/classifier.js'
import {WEIGHT_NAMES, createClassifierWeights, disposeClassifierWeights, weightArraysOf} from '../../src/lib/model/weights.js'
import {TrainingRunOptions, prepareTraining} from '../../src/lib/jobs/train.js'
import {TrainingState} from '../../src/lib/training/checkpoint.js'
import {StepEndEvent} from '../../src/lib/training/events.js'
import {batchAccuracy, crossEntropyLoss, oneHotLabels} from '../../src/lib/training/metrics.js'
import {createOptimizer} from '../../src/lib/training/optimizers.js'
import {batchSlices, defaultTrainingWorkers} from '../../src/lib/training/parallel/workers.js'
import {bytesOf, checkpointDirsPerFile} from './training-runs.js'

// Tiny: 8 batches of 32 per epoch, 16 hidden units; runs cross an epoch (validation after it).
const QUICK: Omit<TrainingRunOptions, 'checkpointDir'> = {hidden: 16, batchSize: 32, limit: 256, validationSize: 100, steps: 12, checkpointEvery: 5}

const freshDir = checkpointDirsPerFile('mnist-rnn-parallel-')

async function train(options: TrainingRunOptions, stopAtStep?: number): Promise<{state: TrainingState; steps: StepEndEvent[]}> {
  const trainer = await prepareTraining(options)
  const steps: StepEndEvent[] = []
  trainer.on('stepEnd', (event) => {
    steps.push(event)
    if (event.step === stopAtStep) trainer.requestStop('test')
  })
  try {
    await trainer.run()
    return {state: await trainer.snapshot(), steps}
  } finally {
    trainer.dispose()
  }
}

describe('data-parallel training (gradient workers)', () => {
  it('splits a batch into contiguous slices whose sizes differ by at most one', () => {
    expect(batchSlices(128, 2)).toEqual([
      {start: 0, end: 64},
      {start: 64, end: 128},
    ])
    expect(batchSlices(10, 3).map(({start, end}) => end - start)).toEqual([3, 3, 4])
  })

  it('defaults to one worker per core (at most 4) on wasm and cpu, and to the main thread on the native backend', () => {
    expect([1, 2, 4, 16].map((cores) => defaultTrainingWorkers(cores, 'wasm'))).toEqual([1, 2, 4, 4])
    expect(defaultTrainingWorkers(8, 'cpu')).toBe(4)
    expect(defaultTrainingWorkers(8, 'tensorflow')).toBe(1)
  })

  it('with 2 workers: the same seed gives the same weights bit for bit, and a run stopped and resumed equals an uninterrupted one', async () => {
    const options = {...QUICK, workers: 2}
    const uninterrupted = await train({...options, checkpointDir: freshDir()})
    expect(uninterrupted.steps.every((step) => step.workers === 2 && step.examplesPerSecond > 0)).toBe(true)

    const dir = freshDir()
    const stopped = await train({...options, checkpointDir: dir}, 7)
    expect(stopped.state.step).toBe(7)
    // The same seed and worker count in a new pool: the first 7 steps match bit for bit.
    expect(stopped.steps.map((step) => step.loss)).toEqual(uninterrupted.steps.slice(0, 7).map((step) => step.loss))
    const resumed = await train({checkpointDir: dir, resume: true})
    expect(resumed.steps[0].workers).toBe(2)

    expect(resumed.state.step).toBe(12)
    expect(resumed.state.config.workers).toBe(2)
    expect(bytesOf(resumed.state.weights)).toEqual(bytesOf(uninterrupted.state.weights))
    expect(resumed.state.optimizer.tensors.map((tensor) => Buffer.from(tensor.values.buffer))).toEqual(
      uninterrupted.state.optimizer.tensors.map((tensor) => Buffer.from(tensor.values.buffer)),
    )
    expect(resumed.state.metrics).toEqual(uninterrupted.state.metrics)
  })

  it('2 workers make the same updates as the main thread alone, up to float rounding', async () => {
    const parallel = await train({...QUICK, steps: 6, workers: 2, checkpointDir: freshDir()})
    const single = await train({...QUICK, steps: 6, workers: 1, checkpointDir: freshDir()})
    parallel.steps.forEach((step, index) => expect(step.loss).toBeCloseTo(single.steps[index].loss, 4))
    for (const name of WEIGHT_NAMES) {
      const a = parallel.state.weights[name]
      const b = single.state.weights[name]
      const largest = a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i])), 0)
      expect(largest).toBeLessThan(1e-4)
    }
  })

  it('--workers 1 is the original single-threaded step: the same weights bit for bit as a plain tf.variableGrads + Adam loop', async () => {
    // Exponential decay, no clipping: the recipe as it was before schedules and workers existed.
    const options = {...QUICK, steps: 5, workers: 1, clipNorm: 0, learningRate: 0.01, learningRateDecay: 1}
    const {state} = await train({...options, checkpointDir: freshDir()})

    const data = splitValidation(loadMnistSplit('train'), QUICK.validationSize!)
    const batches = new ShuffledBatches({...data.train, count: 256, images: data.train.images.subarray(0, 256 * 784), labels: data.train.labels.subarray(0, 256)}, 32, 42)
    const weights = createClassifierWeights(16, 42)
    const variables = WEIGHT_NAMES.map((name) => weights[name])
    const optimizer = createOptimizer('adam', 0.01)
    for (let step = 0; step < 5; step++) {
      const batch = batches.next()
      tf.tidy(() => {
        const oneHot = oneHotLabels(batch.labels)
        const input = imagesTensor(batch.images, batch.size)
        const {grads} = tf.variableGrads(() => {
          const logits = classifierLogits(weights, input)
          tf.keep(batchAccuracy(oneHot, logits)).dispose()
          return crossEntropyLoss(oneHot, logits)
        }, variables)
        optimizer.applyGradients(variables.map((variable) => ({name: variable.name, tensor: grads[variable.name]})))
      })
    }
    const reference = weightArraysOf(weights)
    optimizer.dispose()
    disposeClassifierWeights(weights)
    expect(bytesOf(state.weights)).toEqual(bytesOf(reference))
  })
})

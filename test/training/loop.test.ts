import * as tf from '@tensorflow/tfjs'
import {describe, expect, it} from 'vitest'

import {WEIGHT_NAMES, WeightArrays, disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {TrainingState, loadCheckpoint} from '../../src/lib/training/checkpoint.js'
import {StepEndEvent} from '../../src/lib/training/events.js'
import {Trainer} from '../../src/lib/training/trainer.js'
import {OptimizerName} from '../../src/lib/training/optimizers.js'
import {TrainingRunOptions, prepareTraining} from '../../src/lib/jobs/train.js'
import {bytesOf, checkpointDirsPerFile} from './training-runs.js'

// Small and fast: 16 batches of 64 per epoch, so runs cross epochs (validation, learning-rate decay).
// On the main thread alone (test/training/parallel.test.ts covers the gradient workers).
const QUICK: Omit<TrainingRunOptions, 'checkpointDir'> = {hidden: 16, batchSize: 64, limit: 1024, validationSize: 256, learningRate: 0.01, learningRateDecay: 0.8, workers: 1}

const freshDir = checkpointDirsPerFile('mnist-rnn-loop-')

function recordSteps(trainer: Trainer): StepEndEvent[] {
  const steps: StepEndEvent[] = []
  trainer.on('stepEnd', (event) => {
    steps.push(event)
  })
  return steps
}

function optimizerBytes(state: TrainingState['optimizer']): Array<[string, Buffer]> {
  return state.tensors.map((tensor) => [tensor.name, Buffer.from(tensor.values.buffer, tensor.values.byteOffset, tensor.values.byteLength)])
}

async function trainToEnd(options: TrainingRunOptions, stopAtStep?: number): Promise<TrainingState> {
  const trainer = await prepareTraining(options)
  if (stopAtStep !== undefined) {
    trainer.on('stepEnd', ({step}) => {
      if (step === stopAtStep) trainer.requestStop('test')
    })
  }
  try {
    await trainer.run()
    return await trainer.snapshot()
  } finally {
    trainer.dispose()
  }
}

describe('training loop', () => {
  it('lowers the loss and raises the accuracy within a few dozen steps', async () => {
    const trainer = await prepareTraining({...QUICK, hidden: 32, steps: 48, checkpointDir: freshDir()})
    const steps = recordSteps(trainer)
    const validation: number[] = []
    trainer.on('epochEnd', ({validationAccuracy}) => {
      validation.push(validationAccuracy!)
    })
    const before = trainer.validation
    expect(before.count).toBe(256)
    await trainer.run()
    trainer.dispose()

    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
    const first = steps.slice(0, 8)
    const last = steps.slice(-8)
    expect(steps).toHaveLength(48)
    expect(mean(last.map((s) => s.loss))).toBeLessThan(mean(first.map((s) => s.loss)) - 0.5)
    expect(mean(last.map((s) => s.accuracy))).toBeGreaterThan(mean(first.map((s) => s.accuracy)) + 0.2)
    expect(validation).toHaveLength(3)
    expect(validation[2]).toBeGreaterThan(0.5)
    // The learning rate decays by 0.8 per epoch of 16 steps.
    expect(steps[15].learningRate).toBeCloseTo(0.01)
    expect(steps[16].learningRate).toBeCloseTo(0.008)
    expect(steps.every((s) => s.examplesPerSecond > 0 && s.wallTime > 0)).toBe(true)
  })

  it('keeps the number of live tensors flat across steps, epochs and checkpoints', async () => {
    const before = tf.memory().numTensors
    const trainer = await prepareTraining({...QUICK, steps: 40, checkpointEvery: 7, checkpointDir: freshDir()})
    const counts: number[] = []
    trainer.on('stepEnd', () => {
      counts.push(tf.memory().numTensors)
    })
    await trainer.run()
    trainer.dispose()
    // From step 2 on (Adam creates its moment variables at step 1).
    expect(new Set(counts.slice(1))).toEqual(new Set([counts[1]]))
    expect(tf.memory().numTensors).toBe(before)
  })

  for (const optimizer of ['adam', 'rmsprop', 'sgd'] as OptimizerName[]) {
    it(`stopped and resumed, reaches the same weights bit for bit as an uninterrupted run (${optimizer})`, async () => {
      const options = {...QUICK, optimizer, steps: 40, checkpointEvery: 10}
      const uninterrupted = await trainToEnd({...options, checkpointDir: freshDir()})

      const dir = freshDir()
      const stopped = await trainToEnd({...options, checkpointDir: dir}, 23)
      expect(stopped.step).toBe(23)
      const resumed = await trainToEnd({checkpointDir: dir, resume: true})

      expect(resumed.step).toBe(40)
      expect(resumed.dataPosition).toEqual(uninterrupted.dataPosition)
      expect(bytesOf(resumed.weights)).toEqual(bytesOf(uninterrupted.weights))
      expect(resumed.optimizer.iterations).toBe(40)
      expect(optimizerBytes(resumed.optimizer).map(([, bytes]) => bytes)).toEqual(optimizerBytes(uninterrupted.optimizer).map(([, bytes]) => bytes))
      expect(resumed.metrics).toEqual(uninterrupted.metrics)
    })
  }

  it('saves exactly what it trained: the checkpoint restores the weights and optimizer state bit for bit', async () => {
    const dir = freshDir()
    const trainer = await prepareTraining({...QUICK, steps: 12, checkpointDir: dir})
    await trainer.run()
    const live = await trainer.snapshot()
    trainer.dispose()

    const loaded = loadCheckpoint(dir)
    expect(loaded.name).toBe('ckpt-12')
    const weights = Object.fromEntries(WEIGHT_NAMES.map((name) => [name, loaded.weights[name].dataSync() as Float32Array])) as WeightArrays
    disposeClassifierWeights(loaded.weights)
    expect(bytesOf(weights)).toEqual(bytesOf(live.weights))
    expect(loaded.optimizer.iterations).toBe(12)
    // Adam: iterations, β powers, first and second moments of all five weights.
    expect(loaded.optimizer.tensors).toHaveLength(12)
    expect(optimizerBytes(loaded.optimizer)).toEqual(optimizerBytes(live.optimizer))
    expect(loaded.config).toEqual(live.config)
    expect(loaded.metrics.loss).toBe(live.metrics.loss)
  })
})

import * as tf from '@tensorflow/tfjs'
import {beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {clipByGlobalNorm, globalNormOf} from '../../src/lib/training/clipping.js'
import {TrainingConfig, learningRateAt, newTrainingConfig, resumedTrainingConfig} from '../../src/lib/training/config.js'
import {scheduledLearningRate} from '../../src/lib/training/schedule.js'

beforeAll(async () => {
  await selectBackend('cpu')
})

describe('learning-rate schedules', () => {
  const base = {learningRate: 0.01, learningRateDecay: 0.5, warmupSteps: 0, totalSteps: 100, batchesPerEpoch: 10}

  it('cosine: half a cosine from the peak at the warm-up end to zero at the run end', () => {
    const cosine = {...base, schedule: 'cosine' as const, warmupSteps: 20}
    const rates = [0, 9, 19, 20, 60, 99, 100].map((step) => scheduledLearningRate(cosine, step))
    // Warm-up: step s runs at peak·(s + 1)/20.
    expect(rates[0]).toBeCloseTo(0.0005, 12)
    expect(rates[1]).toBeCloseTo(0.005, 12)
    expect(rates[2]).toBeCloseTo(0.01, 12)
    // Decay over the 80 steps after it: the peak, half of it half-way, nearly zero at the last step.
    expect(rates[3]).toBeCloseTo(0.01, 12)
    expect(rates[4]).toBeCloseTo(0.005, 12)
    expect(rates[5]).toBeCloseTo(0.005 * (1 + Math.cos((Math.PI * 79) / 80)), 12)
    expect(rates[5]).toBeLessThan(0.0001)
    expect(rates[6]).toBe(0)
  })

  it('exponential: the decay once per completed epoch; constant: the peak throughout', () => {
    const exponential = {...base, schedule: 'exponential' as const}
    expect([0, 9, 10, 19, 20, 35].map((step) => scheduledLearningRate(exponential, step))).toEqual([0.01, 0.01, 0.005, 0.005, 0.0025, 0.00125])
    const constant = {...base, schedule: 'constant' as const, warmupSteps: 4}
    expect([0, 1, 3, 4, 99].map((step) => scheduledLearningRate(constant, step))).toEqual([0.0025, 0.005, 0.01, 0.01, 0.01])
  })

  it('the default recipe: a warm-up of half an epoch and a cosine decay over the run, from the config alone', () => {
    const config: TrainingConfig = {...newTrainingConfig({epochs: 4}), trainingImages: 55000}
    expect(config).toMatchObject({schedule: 'cosine', warmupEpochs: 0.5, warmupSteps: null, clipNorm: 1, learningRate: 0.01})
    const perEpoch = 429
    // round(0.5 · 429) = 215 warm-up steps.
    expect(learningRateAt(config, 0, perEpoch)).toBeCloseTo(0.01 / 215, 12)
    expect(learningRateAt(config, 214, perEpoch)).toBeCloseTo(0.01, 12)
    expect(learningRateAt(config, 215 + (4 * perEpoch - 215) / 2, perEpoch)).toBeCloseTo(0.005, 12)
  })

  it('a checkpoint from before schedules existed resumes with its exponential decay, no warm-up and no clipping', () => {
    const {schedule: _s, warmupSteps: _w, warmupEpochs: _e, clipNorm: _c, workers: _n, ...old} = {
      ...newTrainingConfig({learningRate: 0.001, learningRateDecay: 0.85, epochs: 12}),
      trainingImages: 55000,
    }
    const resumed = resumedTrainingConfig(old as TrainingConfig, {}, 'ckpt-858')
    expect(resumed).toMatchObject({schedule: 'exponential', warmupSteps: null, warmupEpochs: null, clipNorm: null, workers: 1})
    expect(learningRateAt(old as TrainingConfig, 858, 429)).toBeCloseTo(0.001 * 0.85 ** 2, 15)
    expect(() => resumedTrainingConfig(old as TrainingConfig, {clipNorm: 1}, 'ckpt-858')).toThrow(
      '--clip-norm 1 contradicts checkpoint ckpt-858 (trained without clipping)',
    )
    expect(() => resumedTrainingConfig(old as TrainingConfig, {schedule: 'cosine'}, 'ckpt-858')).toThrow(/--schedule cosine contradicts/)
    // The worker count may change on resume (the run continues, though not bit for bit).
    expect(resumedTrainingConfig(old as TrainingConfig, {workers: 2}, 'ckpt-858').workers).toBe(2)
  })

  it('rejects schedule flags no run can use', () => {
    expect(() => newTrainingConfig({schedule: 'linear'})).toThrow('unknown schedule "linear": use one of constant, exponential, cosine')
    expect(() => newTrainingConfig({warmupSteps: 10, warmupEpochs: 1})).toThrow('give --warmup-steps or --warmup-epochs, not both')
    expect(() => newTrainingConfig({warmupEpochs: -1})).toThrow('--warmup-epochs must be a number ≥ 0, got -1')
    expect(() => newTrainingConfig({clipNorm: -1})).toThrow('--clip-norm must be a number ≥ 0, got -1')
    expect(() => newTrainingConfig({workers: 0})).toThrow('--workers must be a whole number ≥ 1, got 0')
    expect(() => newTrainingConfig({workers: 9, batchSize: 8})).toThrow('--workers 9 is more than the 8 examples of a batch')
    expect(newTrainingConfig({clipNorm: 0}).clipNorm).toBeNull()
    expect(newTrainingConfig({learningRateDecay: 0.9})).toMatchObject({schedule: 'exponential', warmupEpochs: null})
  })
})

describe('gradient clipping by global norm', () => {
  it('scales every gradient by clip/norm when the global norm exceeds it, keeping directions', () => {
    const gradients = [tf.tensor1d([3, 0]), tf.tensor2d([[0, 4]])]
    const {clipped, globalNorm} = clipByGlobalNorm(gradients, 1)
    expect(globalNorm).toBeCloseTo(5, 6)
    const [first, second] = clipped.map((tensor) => Array.from(tensor.dataSync()))
    expect(first[0]).toBeCloseTo(0.6, 6)
    expect(first[1]).toBe(0)
    expect(second[0]).toBe(0)
    expect(second[1]).toBeCloseTo(0.8, 6)
    const norm = globalNormOf(clipped)
    expect(norm.dataSync()[0]).toBeCloseTo(1, 6)
    expect(clipped[1].shape).toEqual([1, 2])
    tf.dispose([...gradients, ...clipped, norm])
  })

  it('leaves gradients within the norm unchanged, bit for bit', () => {
    const gradients = [tf.tensor1d([0.3, -0.1]), tf.tensor1d([0.2])]
    const {clipped, globalNorm} = clipByGlobalNorm(gradients, 1)
    expect(globalNorm).toBeCloseTo(Math.sqrt(0.14), 6)
    expect(clipped.map((tensor) => Array.from(tensor.dataSync()))).toEqual(gradients.map((tensor) => Array.from(tensor.dataSync())))
    tf.dispose([...gradients, ...clipped])
  })

  it('bounds the norm of large random gradients to the clip value', () => {
    const gradients = [tf.randomNormal([28, 64], 0, 10, 'float32', 1), tf.randomNormal([64], 0, 10, 'float32', 2)]
    const {clipped, globalNorm} = clipByGlobalNorm(gradients, 2.5)
    expect(globalNorm).toBeGreaterThan(100)
    const norm = globalNormOf(clipped)
    expect(norm.dataSync()[0]).toBeCloseTo(2.5, 4)
    tf.dispose([...gradients, ...clipped, norm])
  })
})

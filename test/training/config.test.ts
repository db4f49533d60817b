import {describe, expect, it} from 'vitest'

import {UserError} from '../../src/lib/core/errors.js'
import {
  DEFAULT_EPOCHS,
  TrainingConfig,
  learningRateAt,
  newTrainingConfig,
  resumedTrainingConfig,
  targetSteps,
} from '../../src/lib/training/config.js'
import {resumeCommandLine} from '../../src/lib/jobs/train.js'

const stored: TrainingConfig = {...newTrainingConfig({hidden: 64, limit: 4096, steps: 60, checkpointEvery: 30}), trainingImages: 4096}

describe('training configuration', () => {
  it('defaults to the documented run: Adam peaking at 0.01 with warm-up and cosine decay, clipping, batch 128, 128 units, a fixed number of epochs', () => {
    const config = newTrainingConfig({})
    expect(config).toMatchObject({hidden: 128, batchSize: 128, learningRate: 0.01, schedule: 'cosine', clipNorm: 1, optimizer: 'adam', validationSize: 5000, limit: null})
    expect(targetSteps({...config, trainingImages: 55000}, 429)).toBe(DEFAULT_EPOCHS * 429)
  })

  it('decays the learning rate once per completed epoch, as a function of the step alone', () => {
    const config = {...newTrainingConfig({learningRate: 0.01, learningRateDecay: 0.5}), trainingImages: 1000}
    expect([0, 9, 10, 19, 20, 35].map((step) => learningRateAt(config, step, 10))).toEqual([0.01, 0.01, 0.005, 0.005, 0.0025, 0.00125])
  })

  it('on resume keeps the checkpoint settings, accepts a new length and checkpoint interval, and refuses contradicting flags', () => {
    expect(resumedTrainingConfig(stored, {}, 'ckpt-60')).toEqual(stored)
    expect(resumedTrainingConfig(stored, {hidden: 64, steps: 90}, 'ckpt-60')).toEqual({...stored, steps: 90})
    expect(resumedTrainingConfig(stored, {epochs: 3, checkpointEvery: 10}, 'ckpt-60')).toMatchObject({steps: null, epochs: 3, checkpointEvery: 10})
    expect(() => resumedTrainingConfig(stored, {hidden: 32}, 'ckpt-60')).toThrow(
      '--hidden 32 contradicts checkpoint ckpt-60 (trained with --hidden 64); drop the flag or use another --checkpoint-dir',
    )
    expect(() => resumedTrainingConfig(stored, {optimizer: 'sgd'}, 'ckpt-60')).toThrow(/--optimizer sgd contradicts/)
    expect(() => resumedTrainingConfig(stored, {limit: 100}, 'ckpt-60')).toThrow(/--limit 100 contradicts checkpoint ckpt-60 \(trained with --limit 4096\)/)
    expect(() => resumedTrainingConfig({...stored, limit: null}, {limit: 100}, 'ckpt-60')).toThrow(/\(trained without --limit\)/)
  })

  it('rejects values no run can use with a one-line UserError naming the flag', () => {
    const cases: Array<[Parameters<typeof newTrainingConfig>[0], string]> = [
      [{batchSize: 0}, '--batch-size must be a whole number ≥ 1, got 0'],
      [{batchSize: 1.5}, '--batch-size must be a whole number ≥ 1, got 1.5'],
      [{learningRate: -1}, '--learning-rate must be a number > 0, got -1'],
      [{learningRate: Number.NaN}, '--learning-rate must be a number > 0, got something that is not a number'],
      [{learningRateDecay: 1.5}, '--learning-rate-decay must be in (0, 1], got 1.5'],
      [{optimizer: 'adagrad'}, 'unknown optimizer "adagrad": use one of adam, sgd, rmsprop'],
      [{hidden: 0}, '--hidden must be a whole number ≥ 1, got 0'],
      [{steps: 10, epochs: 1}, 'give --steps or --epochs, not both'],
      [{checkpointEvery: 0}, '--checkpoint-every must be a whole number ≥ 1, got 0'],
    ]
    for (const [options, message] of cases) {
      expect(() => newTrainingConfig(options)).toThrow(UserError)
      expect(() => newTrainingConfig(options)).toThrow(message)
    }
  })

  it('prints a resume command that a shell runs as is', () => {
    expect(resumeCommandLine('mnist-rnn', {checkpointDir: 'checkpoints'})).toBe('mnist-rnn train --resume --checkpoint-dir checkpoints')
    expect(resumeCommandLine('mnist-rnn', {checkpointDir: "my run's ckpts", dataDir: '/data/mnist'})).toBe(
      "mnist-rnn train --resume --checkpoint-dir 'my run'\\''s ckpts' --data-dir /data/mnist",
    )
  })
})

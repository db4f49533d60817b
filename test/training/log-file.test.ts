import {describe, expect, it} from 'vitest'

import {UserError} from '../../src/lib/core/errors.js'
import {historyOf, parseLogEntries} from '../../src/lib/training/log-file.js'

const config = {hidden: 8, seed: 42, batchSize: 10, learningRate: 0.001, learningRateDecay: 1, optimizer: 'adam', validationSize: 0, limit: null, trainingImages: 40, steps: 8, epochs: null, checkpointEvery: 5}
const time = '2026-01-01T00:00:00.000Z'
const step = (n: number, loss: number) => ({event: 'step', step: n, epoch: Math.ceil(n / 4), loss, accuracy: 0.5, learningRate: 0.001, examplesPerSecond: 100, wallTime: n, time})

describe('training log reader', () => {
  it('keeps one value per step, the resumed run replacing what an interrupted run logged past its checkpoint', () => {
    const lines = [
      {event: 'begin', startStep: 0, targetSteps: 8, batchesPerEpoch: 4, config, time},
      ...[1, 2, 3, 4, 5, 6, 7].map((n) => step(n, 1)),
      {event: 'epoch', epoch: 1, step: 4, validationLoss: 0.9, validationAccuracy: 0.6, wallTime: 4, time},
      {event: 'checkpoint', step: 5, name: 'ckpt-5', path: 'c/ckpt-5', wallTime: 5, time},
      // killed at step 7; resumed from ckpt-5
      {event: 'begin', startStep: 5, targetSteps: 8, batchesPerEpoch: 4, resumedFrom: 'ckpt-5', config, time},
      ...[6, 7, 8].map((n) => step(n, 2)),
      {event: 'epoch', epoch: 2, step: 8, validationLoss: 0.8, validationAccuracy: 0.7, wallTime: 8, time},
      {event: 'checkpoint', step: 8, name: 'ckpt-8', path: 'c/ckpt-8', wallTime: 8, time},
      {event: 'end', step: 8, stopped: false, wallTime: 3, time},
    ]
    const history = historyOf(parseLogEntries(lines.map((line) => JSON.stringify(line)).join('\n') + '\n'))
    expect(history.steps.map((entry) => [entry.step, entry.loss])).toEqual([
      [1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 2], [7, 2], [8, 2],
    ])
    expect(history.epochs.map((entry) => [entry.epoch, entry.validationAccuracy])).toEqual([[1, 0.6], [2, 0.7]])
    expect(history.runs.map((run) => [run.begin.resumedFrom, run.end?.step, run.checkpoints.map((c) => c.name)])).toEqual([
      [undefined, undefined, ['ckpt-5']],
      ['ckpt-5', 8, ['ckpt-8']],
    ])
  })

  it('names the line that is not a log entry', () => {
    expect(() => parseLogEntries('{"event":"step","step":1}\nnot json\n', 'train.jsonl')).toThrow(UserError)
    expect(() => parseLogEntries('{"event":"step","step":1}\nnot json\n', 'train.jsonl')).toThrow(/^train\.jsonl line 2 is not JSON/)
    expect(() => parseLogEntries('{"step":1}\n', 'train.jsonl')).toThrow('train.jsonl line 1 is not a training log entry')
  })
})

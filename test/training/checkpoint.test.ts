import * as tf from '@tensorflow/tfjs'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {UserError} from '../../src/lib/core/errors.js'
import {createClassifierWeights, disposeClassifierWeights, weightArraysOf} from '../../src/lib/model/weights.js'
import {
  CHECKPOINT_INDEX_FILE,
  TrainingState,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
} from '../../src/lib/training/checkpoint.js'
import {TrainingConfig, newTrainingConfig} from '../../src/lib/training/config.js'
import {OptimizerState} from '../../src/lib/training/optimizers.js'

const HIDDEN = 8

function config(): TrainingConfig {
  return {...newTrainingConfig({hidden: HIDDEN, steps: 10}), trainingImages: 1000}
}

function stateAt(step: number, seed = step): TrainingState {
  const weights = createClassifierWeights(HIDDEN, seed)
  const arrays = weightArraysOf(weights)
  disposeClassifierWeights(weights)
  const optimizer: OptimizerState = {
    name: 'adam',
    iterations: step,
    tensors: [
      {name: 'lstm/kernel/m', shape: [2, 2], values: new Float32Array([1e-30, -0, Math.PI, Number.MIN_VALUE])},
      {name: 'accBeta1', shape: [], values: new Float32Array([0.9 ** (step + 1)])},
    ],
  }
  return {step, epoch: 0, dataPosition: {epoch: 0, batchInEpoch: step}, config: config(), metrics: {loss: 0.5, accuracy: 0.75}, weights: arrays, optimizer}
}

let dir: string

beforeAll(async () => {
  await selectBackend('cpu')
})

afterEach(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

function freshDir(): string {
  dir = mkdtempSync(join(tmpdir(), 'mnist-rnn-ckpt-'))
  return join(dir, 'checkpoints')
}

describe('checkpoints on disk', () => {
  it('round-trips weights, optimizer state and position exactly, and the index names the latest', () => {
    const checkpoints = freshDir()
    const state = stateAt(30)
    saveCheckpoint(checkpoints, state, 5)
    const index = JSON.parse(readFileSync(join(checkpoints, CHECKPOINT_INDEX_FILE), 'utf8'))
    expect(index).toEqual({latest: 'ckpt-30', all: ['ckpt-30']})

    const loaded = loadCheckpoint(checkpoints)
    try {
      expect(loaded.name).toBe('ckpt-30')
      expect(loaded.step).toBe(30)
      expect(loaded.dataPosition).toEqual({epoch: 0, batchInEpoch: 30})
      expect(loaded.config).toEqual(state.config)
      expect(loaded.metrics).toEqual({loss: 0.5, accuracy: 0.75})
      const arrays = weightArraysOf(loaded.weights)
      for (const name of Object.keys(state.weights) as Array<keyof typeof arrays>) {
        expect(Buffer.from(arrays[name].buffer, arrays[name].byteOffset, arrays[name].byteLength)).toEqual(
          Buffer.from(state.weights[name].buffer, state.weights[name].byteOffset, state.weights[name].byteLength),
        )
      }
      expect(loaded.optimizer.iterations).toBe(30)
      expect(loaded.optimizer.tensors.map((t) => [t.name, t.shape, Array.from(t.values)])).toEqual(
        state.optimizer.tensors.map((t) => [t.name, t.shape, Array.from(t.values)]),
      )
      expect(Object.is(loaded.optimizer.tensors[0].values[1], -0)).toBe(true)
      expect(loaded.sizeBytes).toBeGreaterThan(0)
    } finally {
      disposeClassifierWeights(loaded.weights)
    }
  })

  it('keeps only the newest --keep checkpoints and lists them oldest first', () => {
    const checkpoints = freshDir()
    for (const step of [10, 20, 30, 40]) saveCheckpoint(checkpoints, stateAt(step), 2)
    expect(readdirSync(checkpoints).sort()).toEqual(['checkpoint', 'ckpt-30', 'ckpt-40'])
    const listed = listCheckpoints(checkpoints)
    expect(listed.map((c) => [c.name, c.step, c.latest])).toEqual([
      ['ckpt-30', 30, false],
      ['ckpt-40', 40, true],
    ])
    const older = loadCheckpoint(checkpoints, 'ckpt-30')
    expect(older.step).toBe(30)
    disposeClassifierWeights(older.weights)
  })

  it('replaces a stray folder the index does not name, and cleans leftovers of a crashed save', () => {
    const checkpoints = freshDir()
    saveCheckpoint(checkpoints, stateAt(10), 5)
    saveCheckpoint(checkpoints, stateAt(20, 1), 5)
    // A crash after the rename but before the index update: index back at ckpt-10, ckpt-20 on disk.
    writeFileSync(join(checkpoints, CHECKPOINT_INDEX_FILE), JSON.stringify({latest: 'ckpt-10', all: ['ckpt-10']}))
    writeFileSync(join(checkpoints, '.tmp-ckpt-30-999'), 'half written')
    const state = stateAt(20, 2)
    saveCheckpoint(checkpoints, state, 5)
    expect(readdirSync(checkpoints).sort()).toEqual(['checkpoint', 'ckpt-10', 'ckpt-20'])
    const loaded = loadCheckpoint(checkpoints)
    expect(Array.from(weightArraysOf(loaded.weights).kernel)).toEqual(Array.from(state.weights.kernel))
    disposeClassifierWeights(loaded.weights)
  })

  it('reports missing, corrupt and misplaced checkpoints as one-line user errors', () => {
    const checkpoints = freshDir()
    expect(() => loadCheckpoint(checkpoints)).toThrow(/does not exist/)
    saveCheckpoint(checkpoints, stateAt(10), 5)
    const weightsFile = join(checkpoints, 'ckpt-10', 'weights.bin')
    const bytes = readFileSync(weightsFile)
    bytes[7] ^= 0xff
    writeFileSync(weightsFile, bytes)
    expect(() => loadCheckpoint(checkpoints)).toThrow(/weights\.bin is corrupt/)
    expect(() => loadCheckpoint(checkpoints, 'ckpt-99')).toThrow(/no checkpoint/)

    writeFileSync(join(checkpoints, CHECKPOINT_INDEX_FILE), '{not json')
    expect(() => loadCheckpoint(checkpoints)).toThrow(UserError)
    expect(() => loadCheckpoint(checkpoints)).toThrow(/checkpoint is corrupt/)

    const file = join(dir, 'a-file')
    writeFileSync(file, 'x')
    expect(() => loadCheckpoint(file)).toThrow(/is a file, not a directory/)
    expect(() => saveCheckpoint(file, stateAt(10), 5)).toThrow(/is a file/)
    expect(readFileSync(file, 'utf8')).toBe('x')
    expect(existsSync(join(checkpoints, 'ckpt-10'))).toBe(true)
    expect(tf.memory().numTensors).toBe(0)
  })
})

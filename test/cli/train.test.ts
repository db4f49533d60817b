import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MNIST_FILE_NAMES} from '../../src/lib/data/mnist.js'
import {loadCheckpoint} from '../../src/lib/training/checkpoint.js'
import {disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {linesOf, makeTempDir, runCli, runCliAsync, startCli} from '../helpers/cli.js'
import {writeTinyMnist} from '../helpers/mnist-files.js'

// Small network and validation split: the behaviour under test does not depend on their size.
const SMALL = ['--hidden', '16', '--validation-size', '500']
const SEED_STEP_LINE = /^Step \d+, Minibatch Loss= \d+\.\d{4}, Training Accuracy= \d\.\d{3}, Examples\/s= \d+$/

const temp = makeTempDir('mnist-rnn-train-cli-')
afterAll(() => temp.cleanup())

function indexOf(dir: string): unknown {
  return JSON.parse(readFileSync(join(dir, 'checkpoint'), 'utf8'))
}

function checkpointFolders(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith('ckpt-'))
    .sort()
}

/** Every file under a folder with its sha256: to show that a failed command changed nothing. */
function fingerprint(path: string): Record<string, string> {
  if (!existsSync(path)) return {}
  if (statSync(path).isFile()) return {[path]: createHash('sha256').update(readFileSync(path)).digest('hex')}
  const entries: Record<string, string> = {}
  for (const name of readdirSync(path)) Object.assign(entries, fingerprint(join(path, name)))
  return Object.fromEntries(Object.entries(entries).map(([file, hash]) => [relative(temp.dir, file), hash]))
}

describe('mnist-rnn train', () => {
  const dir = join(temp.dir, 'D')
  const logFile = join(temp.dir, 'train.jsonl')

  it('trains --steps 60 with a checkpoint every 30 steps, then --resume --steps 90 continues from step 60', () => {
    const first = runCli(['train', '--limit', '4096', '--steps', '60', '--checkpoint-every', '30', '--checkpoint-dir', dir, '--log-file', logFile, ...SMALL])
    expect(first.stderr).toContain('Backend: wasm')
    expect(first.status).toBe(0)
    expect(indexOf(dir)).toEqual({latest: 'ckpt-60', all: ['ckpt-30', 'ckpt-60']})
    expect(checkpointFolders(dir)).toEqual(['ckpt-30', 'ckpt-60'])
    const lines = linesOf(first.stdout)
    expect(lines[0]).toMatch(/^Training for 60 steps: LSTM 16 units, adam/)
    expect(lines[1]).toMatch(SEED_STEP_LINE)
    expect(lines[1]).toMatch(/^Step 1,/)
    expect(lines).toContain(`Saved checkpoint ${join(dir, 'ckpt-30')}`)
    expect(lines.find((line) => line.startsWith('Epoch 1, '))).toMatch(/^Epoch 1, Validation Loss= \d\.\d{4}, Validation Accuracy= \d\.\d{3}$/)
    expect(lines).toContain('Optimization Finished!')
    expect(lines.find((line) => line.startsWith('Testing Accuracy'))).toMatch(/^Testing Accuracy \(first 128 test images\): \d\.\d{3}$/)
    expect(lines.find((line) => line.startsWith('Validation Accuracy'))).toMatch(/^Validation Accuracy \(500 images\): \d\.\d{3}, Loss= \d\.\d{4}$/)
    expect(lines.at(-1)).toBe(`Checkpoint: ${join(dir, 'ckpt-60')}`)

    const resumed = runCli(['train', '--resume', '--steps', '90', '--checkpoint-dir', dir, '--log-file', logFile, '--json'])
    expect(resumed.status).toBe(0)
    const summary = JSON.parse(resumed.stdout)
    expect(summary).toMatchObject({step: 90, targetSteps: 90, stopped: false, resumedFrom: 'ckpt-60', backend: 'wasm', checkpoint: join(dir, 'ckpt-90')})
    expect(summary.config).toMatchObject({hidden: 16, limit: 4096, steps: 90, checkpointEvery: 30, trainingImages: 4096})
    expect(summary.test.images).toBe(128)
    expect(summary.validation.images).toBe(500)
    expect(indexOf(dir)).toEqual({latest: 'ckpt-90', all: ['ckpt-30', 'ckpt-60', 'ckpt-90']})
    const checkpoint = loadCheckpoint(dir)
    expect(checkpoint.step).toBe(90)
    disposeClassifierWeights(checkpoint.weights)

    // The log file holds one line per step of both runs, with the fields a dashboard needs.
    const entries = linesOf(readFileSync(logFile, 'utf8')).map((line) => JSON.parse(line))
    const steps = entries.filter((entry) => entry.event === 'step')
    expect(steps.map((entry) => entry.step)).toEqual(Array.from({length: 90}, (_, i) => i + 1))
    for (const key of ['epoch', 'loss', 'accuracy', 'learningRate', 'examplesPerSecond', 'wallTime']) expect(typeof steps[0][key]).toBe('number')
    expect(entries.filter((entry) => entry.event === 'checkpoint').map((entry) => entry.step)).toEqual([30, 60, 90])
  })

  for (const [signal, exitCode] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`on ${signal} finishes the step, saves a loadable checkpoint, says how to resume and exits ${exitCode}`, async () => {
      const signalDir = join(temp.dir, signal)
      const child = startCli(['train', '--limit', '2048', '--batch-size', '64', '--display-step', '1', '--checkpoint-dir', signalDir, ...SMALL])
      let stdout = ''
      let signalled = false
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        if (!signalled && /^Step 5,/m.test(stdout)) {
          signalled = true
          child.kill(signal)
        }
      })
      const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)))
      expect(code).toBe(exitCode)
      const stoppedAt = Number(/Stopped by .* at step (\d+)/.exec(stdout)?.[1])
      expect(stoppedAt).toBeGreaterThanOrEqual(5)
      expect(stdout).toContain(`Resume with: mnist-rnn train --resume --checkpoint-dir ${signalDir}`)
      const checkpoint = loadCheckpoint(signalDir)
      expect(checkpoint.step).toBe(stoppedAt)
      expect(checkpoint.dataPosition).toEqual({epoch: 0, batchInEpoch: stoppedAt})
      disposeClassifierWeights(checkpoint.weights)
    })
  }

  it('after kill -9 at any moment, the checkpoint the index names loads and --resume continues', async () => {
    const killedDir = join(temp.dir, 'killed')
    // A checkpoint every step, so that the kill is likely to land in the middle of a save.
    const child = startCli(['train', '--limit', '2048', '--batch-size', '64', '--checkpoint-every', '1', '--keep', '2', '--checkpoint-dir', killedDir, ...SMALL])
    let saves = 0
    child.stdout.on('data', (chunk: Buffer) => {
      saves += chunk.toString().split('Saved checkpoint').length - 1
      if (saves >= 4) child.kill('SIGKILL')
    })
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, killedBy) => resolve(killedBy)))
    expect(signal).toBe('SIGKILL')
    const checkpoint = loadCheckpoint(killedDir)
    expect(checkpoint.step).toBeGreaterThanOrEqual(4)
    disposeClassifierWeights(checkpoint.weights)

    const resumed = runCli(['train', '--resume', '--steps', String(checkpoint.step + 2), '--checkpoint-dir', killedDir, '--json'])
    expect(resumed.status).toBe(0)
    expect(JSON.parse(resumed.stdout)).toMatchObject({step: checkpoint.step + 2, resumedFrom: checkpoint.name})
    expect(readdirSync(killedDir).filter((name) => name.startsWith('.tmp-'))).toEqual([])
  })

  describe('bad input: one line on stderr, a non-zero exit, nothing on disk changed', () => {
    const file = join(temp.dir, 'a-file')
    const empty = join(temp.dir, 'empty')
    const corruptData = join(temp.dir, 'corrupt-data')
    let before: Record<string, string>

    beforeAll(() => {
      writeFileSync(file, 'not a directory\n')
      mkdirSync(empty)
      mkdirSync(corruptData)
      writeTinyMnist(corruptData)
      const images = join(corruptData, MNIST_FILE_NAMES.train.images)
      writeFileSync(images, readFileSync(images).subarray(0, 5000))
      if (!existsSync(join(dir, 'checkpoint'))) {
        expect(runCli(['train', '--limit', '512', '--steps', '2', '--checkpoint-dir', dir, ...SMALL]).status).toBe(0)
      }
      before = fingerprint(temp.dir)
    })

    const cases: Array<[string, () => string[], RegExp]> = [
      ['--batch-size 0', () => ['--batch-size', '0'], /^Error: --batch-size must be a whole number ≥ 1, got 0$/],
      ['--learning-rate -1', () => ['--learning-rate', '-1'], /^Error: --learning-rate must be a number > 0, got -1$/],
      ['an unknown optimizer', () => ['--optimizer', 'adagrad'], /^Error: unknown optimizer "adagrad": use one of adam, sgd, rmsprop$/],
      ['--steps with --epochs', () => ['--steps', '5', '--epochs', '1'], /^Error: give --steps or --epochs, not both$/],
      ['--resume without a checkpoint', () => ['--resume', '--checkpoint-dir', empty], /^Error: no checkpoint in .*empty/],
      ['a checkpoint directory that is a file', () => ['--checkpoint-dir', file], /^Error: checkpoint directory .*a-file is a file, not a directory$/],
      ['a missing data directory', () => ['--data-dir', join(temp.dir, 'nowhere'), '--checkpoint-dir', join(temp.dir, 'unused')], /^Error: data directory .*nowhere does not exist$/],
      ['a corrupt data directory', () => ['--data-dir', corruptData, '--checkpoint-dir', join(temp.dir, 'unused')], /^Error: .*train-images-idx3-ubyte: truncated/],
      ['a flag that contradicts the checkpoint', () => ['--resume', '--checkpoint-dir', dir, '--hidden', '32'], /^Error: --hidden 32 contradicts checkpoint ckpt-\d+ \(trained with --hidden 16\)/],
      ['a new run over existing checkpoints', () => ['--checkpoint-dir', dir], /^Error: .*D already holds checkpoints \(latest ckpt-\d+\): add --resume/],
    ]
    it('rejects each: bad numbers, an unknown optimizer, no checkpoint to resume, a file for a folder, missing or corrupt data, contradicting flags', async () => {
      // Run side by side: each is a process start-up, not training.
      const results = await Promise.all(cases.map(([, args]) => runCliAsync(['train', ...args()])))
      cases.forEach(([what, , message], i) => {
        const result = results[i]
        expect(result.status, what).toBe(1)
        const errors = linesOf(result.stderr).filter((line) => !line.startsWith('Backend:'))
        expect(errors, what).toHaveLength(1)
        expect(errors[0], what).toMatch(message)
      })
      expect(fingerprint(temp.dir)).toEqual(before)
    })
  })
})

import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {afterAll, describe, expect, it} from 'vitest'

import {newTrainingConfig} from '../../src/lib/training/config.js'
import {TrainBeginEvent, TrainingEvents} from '../../src/lib/training/events.js'
import {JsonLinesLog} from '../../src/lib/training/listeners/json-log.js'
import {attachPlainLog} from '../../src/lib/training/listeners/plain-log.js'
import {attachProgressBar} from '../../src/lib/training/listeners/progress-bar.js'
import {makeTempDir} from '../helpers/cli.js'

const temp = makeTempDir('mnist-rnn-listeners-')
afterAll(() => temp.cleanup())

const begin: TrainBeginEvent = {
  config: {...newTrainingConfig({steps: 400, learningRate: 0.001, learningRateDecay: 0.8}), trainingImages: 55000},
  startStep: 0,
  targetSteps: 400,
  batchesPerEpoch: 429,
  trainingImages: 55000,
  validationImages: 5000,
  workers: 2,
}

/** A short run's events, as the trainer would emit them. */
async function emitRun(events: TrainingEvents): Promise<void> {
  await events.emit('trainBegin', begin)
  for (let step = 1; step <= 400; step++) {
    const loss = 2.3 / step
    await events.emit('stepEnd', {step, epoch: 1, targetSteps: 400, loss, accuracy: 0.836, learningRate: 0.001, examplesPerSecond: 850, wallTime: step / 10, workers: 2})
  }
  await events.emit('epochEnd', {epoch: 1, step: 400, validationLoss: 0.12345, validationAccuracy: 0.9654, wallTime: 41})
  await events.emit('checkpointSaved', {step: 400, name: 'ckpt-400', path: 'checkpoints/ckpt-400', wallTime: 42})
  await events.emit('trainEnd', {step: 400, stopped: false, wallTime: 42})
}

describe('training listeners', () => {
  it('plain log: the seed-style line (with examples/s) on the first step and every --display-step steps, validation and checkpoints', async () => {
    const events = new TrainingEvents()
    const lines: string[] = []
    attachPlainLog(events, (line) => lines.push(line), {displayStep: 200, checkpointDir: 'checkpoints'})
    await emitRun(events)
    expect(lines).toEqual([
      'Training for 400 steps: LSTM 128 units, adam at learning rate 0.001 × 0.8 per epoch, clip norm 1, batch 128, 55000 training / 5000 validation images, 429 steps per epoch, 2 workers',
      // The first step's own speed, then examples over wall time since the previous line: 199 · 128 / 19.9 s.
      'Step 1, Minibatch Loss= 2.3000, Training Accuracy= 0.836, Examples/s= 850',
      'Step 200, Minibatch Loss= 0.0115, Training Accuracy= 0.836, Examples/s= 1280',
      'Step 400, Minibatch Loss= 0.0057, Training Accuracy= 0.836, Examples/s= 1280',
      'Epoch 1, Validation Loss= 0.1235, Validation Accuracy= 0.965',
      'Saved checkpoint checkpoints/ckpt-400',
    ])
  })

  it('JSON-lines log: one parseable line per event with step, epoch, loss, accuracy, learning rate, examples/s, wall time', async () => {
    const events = new TrainingEvents()
    const path = join(temp.dir, 'log.jsonl')
    new JsonLinesLog(path).attach(events)
    await emitRun(events)
    const entries = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
    expect(entries).toHaveLength(1 + 400 + 3)
    expect(entries[0]).toMatchObject({event: 'begin', startStep: 0, targetSteps: 400, workers: 2, config: {hidden: 128, optimizer: 'adam', schedule: 'exponential'}})
    expect(entries[200]).toMatchObject({event: 'step', step: 200, epoch: 1, loss: 0.0115, accuracy: 0.836, learningRate: 0.001, examplesPerSecond: 850, wallTime: 20, workers: 2})
    expect(Date.parse(entries[200].time)).not.toBeNaN()
    expect(entries.slice(-3).map((entry) => entry.event)).toEqual(['epoch', 'checkpoint', 'end'])
    expect(() => new JsonLinesLog(join(temp.dir, 'missing-folder', 'log.jsonl'))).toThrow(/^cannot write the log file/)
  })

  it('progress bar (TTY): step, loss, accuracy, speed, workers and ETA, with validation and checkpoints printed above it', async () => {
    let output = ''
    const terminal = Object.assign(
      new Writable({
        write(chunk, _encoding, done) {
          output += chunk.toString()
          done()
        },
      }),
      {isTTY: true, columns: 200, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true},
    )
    const events = new TrainingEvents()
    attachProgressBar(events, {checkpointDir: 'checkpoints', stream: terminal as unknown as NodeJS.WriteStream})
    await emitRun(events)
    const plain = output.replaceAll(/\u001B\[[0-9;?]*[A-Za-z]/g, '')
    expect(plain).toContain('Training for 400 steps')
    expect(plain).toMatch(/100% \| epoch 1\/1 \| step 400\/400 \| loss 0\.0057 \| acc 0\.836 \| 850 ex\/s on 2 workers \| ETA 0s/)
    expect(plain).toContain('Epoch 1, Validation Loss= 0.1235, Validation Accuracy= 0.965')
    expect(plain).toContain('Saved checkpoint checkpoints/ckpt-400')
  })
})

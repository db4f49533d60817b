import {readFileSync, readdirSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {PNG} from 'pngjs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CELL_HEIGHT, CELL_WIDTH, GRID_COLUMNS} from '../../src/lib/evaluation/errors-png.js'
import {disposeClassifierWeights, weightArraysOf} from '../../src/lib/model/weights.js'
import {loadCheckpoint} from '../../src/lib/training/checkpoint.js'
import {histogramOf} from '../../src/lib/training/tensorboard/histogram.js'
import {linesOf, makeTempDir, runCliAsync} from '../helpers/cli.js'
import {writeTinyMnist} from '../helpers/mnist-files.js'
import {DecodedEvent, DecodedValue, crc32c, maskedCrc, readEventFile, readRecords} from '../helpers/tensorboard-events.js'

// 150 training images in batches of 30: 5 steps per epoch. The first run trains 2 epochs, the
// resumed run a third. hidden 8 keeps it fast; validation is the last 50 images.
const RUN = ['--hidden', '8', '--batch-size', '30', '--validation-size', '50', '--display-step', '100']
const STEPS_PER_EPOCH = 5
const FIRST_RUN_STEPS = 10
const TOTAL_STEPS = 15
const VALIDATION_IMAGES = 50
const HIDDEN = 8
const WEIGHT_TAGS: Record<string, number> = {
  'lstm/kernel/histogram': 28 * 4 * HIDDEN,
  'lstm/recurrent_kernel/histogram': HIDDEN * 4 * HIDDEN,
  'lstm/bias/histogram': 4 * HIDDEN,
  'y_output/kernel/histogram': HIDDEN * 10,
  'y_output/bias/histogram': 10,
}
const EVENT_FILE_NAME = new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\.\\d+)?$`)

interface LogLine {
  event: string
  step: number
  epoch: number
  loss: number
  accuracy: number
  learningRate: number
  examplesPerSecond: number
  validationLoss: number
  validationAccuracy: number
}

const temp = makeTempDir('mnist-rnn-tensorboard-')
afterAll(() => temp.cleanup())

describe('CRC32C of the test decoder', () => {
  it('matches the standard check value and TensorFlow masking', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
    expect(maskedCrc(Buffer.alloc(0))).toBe(0xa282ead8)
  })
})

describe('histogramOf (TensorFlow default buckets)', () => {
  it('counts each value in the first bucket whose limit is above it and collapses empty runs', () => {
    const values = [-1, 0, 0, 0.5, 2]
    const histogram = histogramOf(values)
    expect(histogram).toMatchObject({min: -1, max: 2, num: 5, sum: 1.5, sum_squares: 5.25})
    expect(histogram.bucket.reduce((a, b) => a + b, 0)).toBe(5)
    // Limits grow by 10% from 1e-12, as TensorFlow's histogram.cc builds them.
    const limits: number[] = []
    for (let limit = 1e-12; limit < 1e20; limit *= 1.1) limits.push(limit)
    const firstAbove = (value: number) => (value < 0 ? -[...limits].reverse().find((limit) => -limit > value)! : value === 0 ? 1e-12 : limits.find((limit) => limit > value)!)
    for (const value of [-1, 0, 0.5, 2]) {
      const index = histogram.bucket_limit.indexOf(firstAbove(value))
      expect(index, `bucket of ${value}`).toBeGreaterThanOrEqual(0)
      expect(histogram.bucket[index]).toBe(value === 0 ? 2 : 1)
    }
    // Between filled buckets, empty runs are one bucket each; the last limit is DBL_MAX.
    expect(histogram.bucket_limit.at(-1)).toBe(Number.MAX_VALUE)
    expect(histogram.bucket.filter((count) => count > 0)).toHaveLength(4)
    for (let i = 1; i < histogram.bucket.length; i++) expect(histogram.bucket[i - 1] > 0 || histogram.bucket[i] > 0).toBe(true)
  })
})

describe('mnist-rnn train --tensorboard', () => {
  const logDir = join(temp.dir, 'logs')
  const logFile = join(temp.dir, 'train.jsonl')
  const checkpointDir = join(temp.dir, 'ckpt')
  const dataDir = join(temp.dir, 'data')
  let startedAt = 0
  let endedAt = 0

  beforeAll(async () => {
    const {mkdirSync} = await import('node:fs')
    mkdirSync(dataDir)
    writeTinyMnist(dataDir)
    startedAt = Date.now() / 1000
    const common = ['--data-dir', dataDir, '--checkpoint-dir', checkpointDir, '--log-file', logFile, '--tensorboard', logDir, ...RUN]
    const first = await runCliAsync(['train', '--steps', String(FIRST_RUN_STEPS), ...common])
    expect(first.stderr).toContain('Backend: wasm')
    expect(first.status, first.stderr).toBe(0)
    const resumed = await runCliAsync(['train', '--resume', '--steps', String(TOTAL_STEPS), ...common])
    expect(resumed.status, resumed.stderr).toBe(0)
    endedAt = Date.now() / 1000
  })

  const logLines = (): LogLine[] => linesOf(readFileSync(logFile, 'utf8')).map((line) => JSON.parse(line))
  /** Each run folder's files, oldest first, decoded (every record's two CRCs checked). */
  const runFiles = (run: string): Array<{name: string; events: DecodedEvent[]}> =>
    readdirSync(join(logDir, run))
      .sort()
      .map((name) => ({name, events: readEventFile(readFileSync(join(logDir, run, name)))}))
  const valuesOf = (events: DecodedEvent[], tag: string): Array<{step: number; value: DecodedValue}> =>
    events.flatMap((event) => (event.values ?? []).filter((value) => value.tag === tag).map((value) => ({step: event.step, value})))

  it('writes one events file per run in train/ and validation/, each record framed with both CRCs right', () => {
    expect(readdirSync(logDir).sort()).toEqual(['train', 'validation'])
    for (const run of ['train', 'validation']) {
      const files = readdirSync(join(logDir, run)).sort()
      expect(files).toHaveLength(2)
      for (const name of files) {
        expect(name).toMatch(EVENT_FILE_NAME)
        const bytes = readFileSync(join(logDir, run, name))
        expect(readRecords(bytes).length).toBeGreaterThan(1)
        // A flipped byte in the data is caught by the data CRC.
        const corrupted = Buffer.from(bytes)
        corrupted[20] ^= 0xff
        expect(() => readRecords(corrupted)).toThrow(/CRC/)
      }
    }
  })

  it('opens each file with file_version brain.Event:2 and a wall time, and marks the resume with SessionLog START', () => {
    for (const run of ['train', 'validation']) {
      const [first, resumed] = runFiles(run)
      for (const file of [first, resumed]) {
        expect(file.events[0]).toMatchObject({step: 0, fileVersion: 'brain.Event:2'})
        for (const event of file.events) {
          expect(event.wallTime).toBeGreaterThanOrEqual(Math.floor(startedAt))
          expect(event.wallTime).toBeLessThanOrEqual(endedAt + 1)
        }
      }
      expect(first.events.some((event) => event.sessionStatus !== undefined)).toBe(false)
      // SessionLog.START = 1, at the first step of the resumed run.
      expect(resumed.events[1]).toMatchObject({step: FIRST_RUN_STEPS + 1, sessionStatus: 1})
    }
  })

  it('has every step of both runs as batch scalars equal to the log file, the resumed file continuing at step 11', () => {
    const steps = logLines().filter((line) => line.event === 'step')
    expect(steps.map((line) => line.step)).toEqual(Array.from({length: TOTAL_STEPS}, (_, i) => i + 1))
    const [first, resumed] = runFiles('train')
    const tags = {batch_loss: 'loss', batch_accuracy: 'accuracy', learning_rate: 'learningRate', examples_per_second: 'examplesPerSecond'} as const
    for (const [tag, field] of Object.entries(tags)) {
      const written = [...valuesOf(first.events, tag), ...valuesOf(resumed.events, tag)]
      expect(written.map(({step}) => step)).toEqual(steps.map((line) => line.step))
      written.forEach(({value}, index) => expect(value.simpleValue, `${tag} at step ${index + 1}`).toBe(Math.fround(steps[index][field])))
    }
    expect(valuesOf(resumed.events, 'batch_loss')[0].step).toBe(FIRST_RUN_STEPS + 1)
  })

  it('writes epoch_loss and epoch_accuracy per epoch: the mean of the steps in train/, the validation score in validation/', () => {
    const lines = logLines()
    const steps = lines.filter((line) => line.event === 'step')
    const epochs = lines.filter((line) => line.event === 'epoch')
    expect(epochs.map((line) => line.step)).toEqual([5, 10, 15])
    const trainEvents = runFiles('train').flatMap((file) => file.events)
    const validationEvents = runFiles('validation').flatMap((file) => file.events)
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
    for (const [tag, field, validationField] of [
      ['epoch_loss', 'loss', 'validationLoss'],
      ['epoch_accuracy', 'accuracy', 'validationAccuracy'],
    ] as const) {
      const train = valuesOf(trainEvents, tag)
      expect(train.map(({step}) => step)).toEqual([5, 10, 15])
      train.forEach(({step, value}) => {
        const inEpoch = steps.filter((line) => line.step > step - STEPS_PER_EPOCH && line.step <= step)
        expect(value.simpleValue).toBe(Math.fround(mean(inEpoch.map((line) => line[field]))))
      })
      const validation = valuesOf(validationEvents, tag)
      expect(validation.map(({step}) => step)).toEqual([5, 10, 15])
      validation.forEach(({value}, index) => expect(value.simpleValue).toBe(Math.fround(epochs[index][validationField])))
    }
  })

  it('writes a histogram of each weight per epoch, the last one matching the final checkpoint', () => {
    const trainEvents = runFiles('train').flatMap((file) => file.events)
    const checkpoint = loadCheckpoint(checkpointDir)
    expect(checkpoint.step).toBe(TOTAL_STEPS)
    const arrays = weightArraysOf(checkpoint.weights)
    const byTag: Record<string, Float32Array> = {
      'lstm/kernel/histogram': arrays.kernel,
      'lstm/recurrent_kernel/histogram': arrays.recurrentKernel,
      'lstm/bias/histogram': arrays.bias,
      'y_output/kernel/histogram': arrays.denseKernel,
      'y_output/bias/histogram': arrays.denseBias,
    }
    for (const [tag, count] of Object.entries(WEIGHT_TAGS)) {
      const written = valuesOf(trainEvents, tag)
      expect(written.map(({step}) => step)).toEqual([5, 10, 15])
      for (const {value} of written) {
        const histogram = value.histogram!
        expect(histogram.num).toBe(count)
        expect(histogram.bucket.reduce((a, b) => a + b, 0)).toBe(count)
        expect(histogram.bucket).toHaveLength(histogram.bucketLimit.length)
        for (let i = 1; i < histogram.bucketLimit.length; i++) expect(histogram.bucketLimit[i]).toBeGreaterThan(histogram.bucketLimit[i - 1])
        expect(histogram.min).toBeLessThanOrEqual(histogram.max)
        expect(histogram.bucketLimit.at(-1)).toBe(Number.MAX_VALUE)
      }
      const weights = Array.from(byTag[tag])
      const last = written.at(-1)!.value.histogram!
      expect(last.min).toBe(Math.min(...weights))
      expect(last.max).toBe(Math.max(...weights))
      expect(last.sum).toBeCloseTo(weights.reduce((a, b) => a + b, 0), 10)
      expect(last.sumSquares).toBeCloseTo(weights.reduce((a, b) => a + b * b, 0), 10)
    }
    disposeClassifierWeights(checkpoint.weights)
  })

  it('writes the misclassified validation digits of each epoch as an RGBA PNG grid of the right size', () => {
    const validationEvents = runFiles('validation').flatMap((file) => file.events)
    const epochs = logLines().filter((line) => line.event === 'epoch')
    const images = valuesOf(validationEvents, 'misclassified_digits')
    const wrongByStep = new Map(epochs.map((line) => [line.step, Math.round((1 - line.validationAccuracy) * VALIDATION_IMAGES)]))
    expect(images.map(({step}) => step)).toEqual(epochs.filter((line) => line.validationAccuracy < 1).map((line) => line.step))
    expect(images.length).toBeGreaterThan(0)
    for (const {step, value} of images) {
      const image = value.image!
      const wrong = wrongByStep.get(step)!
      expect(image.colorspace).toBe(4)
      expect(image.width).toBe(Math.min(GRID_COLUMNS, wrong) * CELL_WIDTH)
      expect(image.height).toBe(Math.ceil(wrong / GRID_COLUMNS) * CELL_HEIGHT)
      const png = PNG.sync.read(image.png)
      expect([png.width, png.height]).toEqual([image.width, image.height])
    }
  })
})

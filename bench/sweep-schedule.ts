/**
 * Learning curves of candidate schedules, for choosing the default recipe on the validation split.
 *
 *   node --import tsx bench/sweep-schedule.ts --learning-rate 0.005 --epochs 4 [--warmup-steps 200]
 *        [--clip-norm 1] [--schedule cosine] [--batch-size 128] [--seed 42] [--out curves.jsonl]
 *
 * Trains in-process on one thread (the data-parallel path gives other bits, not other curves) and
 * prints one JSON line per epoch: validation accuracy and loss (what selects) and test accuracy
 * (what reports). Accuracy per epoch does not depend on the machine's load.
 */
import * as tf from '@tensorflow/tfjs'
import {appendFileSync} from 'node:fs'
import {parseArgs} from 'node:util'

import {selectBackend} from '../src/lib/backend.js'
import {ShuffledBatches} from '../src/lib/data/batches.js'
import {loadMnistSplit, splitValidation} from '../src/lib/data/mnist.js'
import {classifierLogits, imagesTensor} from '../src/lib/model/classifier.js'
import {WEIGHT_NAMES, createClassifierWeights} from '../src/lib/model/weights.js'
import {clipByGlobalNorm} from '../src/lib/training/clipping.js'
import {crossEntropyLoss, lossAndAccuracyOf, oneHotLabels} from '../src/lib/training/metrics.js'
import {createOptimizer, setLearningRate} from '../src/lib/training/optimizers.js'
import {ScheduleName, scheduledLearningRate} from '../src/lib/training/schedule.js'

const {values} = parseArgs({
  options: {
    'learning-rate': {type: 'string', default: '0.005'},
    epochs: {type: 'string', default: '4'},
    'warmup-steps': {type: 'string', default: '200'},
    'clip-norm': {type: 'string', default: '1'},
    schedule: {type: 'string', default: 'cosine'},
    optimizer: {type: 'string', default: 'adam'},
    'batch-size': {type: 'string', default: '128'},
    hidden: {type: 'string', default: '128'},
    seed: {type: 'string', default: '42'},
    out: {type: 'string'},
  },
})
const learningRate = Number(values['learning-rate'])
const epochs = Number(values.epochs)
const warmupSteps = Number(values['warmup-steps'])
const clipNorm = values['clip-norm'] === 'none' ? null : Number(values['clip-norm'])
const batchSize = Number(values['batch-size'])
const seed = Number(values.seed)
const hidden = Number(values.hidden)
const recipe = {schedule: values.schedule, optimizer: values.optimizer, learningRate, epochs, warmupSteps, clipNorm, batchSize, hidden, seed}

await selectBackend('wasm')
const split = splitValidation(loadMnistSplit('train'), 5000)
const test = loadMnistSplit('test')
const batches = new ShuffledBatches(split.train, batchSize, seed)
const totalSteps = epochs * batches.batchesPerEpoch
const weights = createClassifierWeights(hidden, seed)
const variables = WEIGHT_NAMES.map((name) => weights[name])
const optimizer = createOptimizer(values.optimizer!, learningRate)
const started = performance.now()
let norms: number[] = []
let clippedSteps = 0

for (let step = 0; step < totalSteps; step++) {
  const rate = scheduledLearningRate(
    {schedule: values.schedule as ScheduleName, learningRate, learningRateDecay: 1, warmupSteps, totalSteps, batchesPerEpoch: batches.batchesPerEpoch},
    step,
  )
  setLearningRate(optimizer, rate)
  const batch = batches.next()
  tf.tidy(() => {
    const oneHot = oneHotLabels(batch.labels)
    const input = imagesTensor(batch.images, batch.size)
    const {grads} = tf.variableGrads(() => crossEntropyLoss(oneHot, classifierLogits(weights, input)), variables)
    let list = variables.map((variable) => grads[variable.name])
    if (clipNorm !== null) {
      const {clipped, globalNorm} = clipByGlobalNorm(list, clipNorm)
      norms.push(globalNorm)
      if (globalNorm > clipNorm) clippedSteps++
      list = clipped
    }
    optimizer.applyGradients(variables.map((variable, index) => ({name: variable.name, tensor: list[index]})))
  })
  if ((step + 1) % batches.batchesPerEpoch === 0) {
    const validation = lossAndAccuracyOf(weights, split.validation)
    const testScore = lossAndAccuracyOf(weights, test)
    const sorted = [...norms].sort((a, b) => a - b)
    const line = JSON.stringify({
      ...recipe,
      epoch: (step + 1) / batches.batchesPerEpoch,
      step: step + 1,
      learningRateNow: rate,
      validationAccuracy: validation.accuracy,
      validationLoss: Number(validation.loss.toFixed(4)),
      testAccuracy: testScore.accuracy,
      medianGradNorm: sorted.length ? Number(sorted[sorted.length >> 1].toFixed(3)) : null,
      clippedFraction: norms.length ? Number((clippedSteps / norms.length).toFixed(3)) : null,
      seconds: Math.round((performance.now() - started) / 1000),
    })
    console.log(line)
    if (values.out) appendFileSync(values.out, `${line}\n`)
    norms = []
    clippedSteps = 0
  }
}

/**
 * How fast the default recipe converges: trains `train`'s defaults from scratch and prints, per
 * epoch, the training wall time so far, validation and test accuracy, then the training time at
 * which test accuracy first reached 98.5% and 98.8%.
 *
 *   npm run bench:converge [-- --epochs N] [--workers N] [--seed N] [--data-dir DIR] [--json]
 *
 * The test set is scored after every epoch for this report only (the recipe was chosen on the
 * validation split); that scoring is left out of the wall times, which are what `train` spends.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

import {selectBackend} from '../src/lib/backend.js'
import {loadMnistSplit} from '../src/lib/data/mnist.js'
import {prepareTraining} from '../src/lib/jobs/train.js'
import {describeSchedule} from '../src/lib/training/listeners/plain-log.js'
import {lossAndAccuracyOf} from '../src/lib/training/metrics.js'
import {fixed, formatTable} from './helpers.js'

const TARGETS = [0.985, 0.988]

interface EpochRow {
  epoch: number
  step: number
  /** Training seconds so far (test scoring excluded). */
  wallTime: number
  validationAccuracy: number
  testAccuracy: number
}

const {values} = parseArgs({
  options: {
    epochs: {type: 'string'},
    workers: {type: 'string'},
    seed: {type: 'string'},
    'data-dir': {type: 'string'},
    json: {type: 'boolean', default: false},
  },
})
const number = (text: string | undefined) => (text === undefined ? undefined : Number(text))

const backend = await selectBackend('auto')
const dataDir = values['data-dir']
const test = loadMnistSplit('test', dataDir)
const checkpointDir = mkdtempSync(join(tmpdir(), 'mnist-rnn-converge-'))
const rows: EpochRow[] = []
let testSeconds = 0
const trainer = await prepareTraining({
  checkpointDir: join(checkpointDir, 'checkpoints'),
  dataDir,
  epochs: number(values.epochs),
  workers: number(values.workers),
  seed: number(values.seed),
})
trainer.on('epochEnd', ({epoch, step, wallTime, validationAccuracy}) => {
  const began = performance.now()
  const {accuracy} = lossAndAccuracyOf(trainer.weights, test)
  rows.push({epoch, step, wallTime: wallTime - testSeconds, validationAccuracy: validationAccuracy ?? Number.NaN, testAccuracy: accuracy})
  testSeconds += (performance.now() - began) / 1000
  if (!values.json) console.error(`epoch ${epoch}: validation ${fixed(100 * (validationAccuracy ?? Number.NaN), 2)}%, test ${fixed(100 * accuracy, 2)}%`)
})
const end = await trainer.run()
const config = trainer.config
const workers = trainer.workers
trainer.dispose()
rmSync(checkpointDir, {recursive: true, force: true})

const trainingSeconds = end.wallTime - testSeconds
const reached = TARGETS.map((target) => ({target, at: rows.find((row) => row.testAccuracy >= target)}))
const summary = {
  backend,
  workers,
  recipe: `${config.optimizer} at ${describeSchedule(config, trainer.batchesPerEpoch)}, batch ${config.batchSize}, ${config.epochs} epochs, seed ${config.seed}`,
  steps: end.step,
  trainingSeconds,
  msPerStep: (1000 * trainingSeconds) / end.step,
  epochs: rows,
  reached: reached.map(({target, at}) => ({target, epoch: at?.epoch ?? null, wallTime: at?.wallTime ?? null})),
}

if (values.json) {
  console.log(JSON.stringify(summary, null, 2))
} else {
  const percent = (value: number) => `${fixed(100 * value, 2)}%`
  console.log(`Default recipe: ${summary.recipe}; backend ${backend}, ${workers} worker${workers === 1 ? '' : 's'}.`)
  console.log(
    formatTable(
      ['epoch', 'step', 'wall time', 'validation', 'test'],
      rows.map((row) => [String(row.epoch), String(row.step), `${fixed(row.wallTime)} s`, percent(row.validationAccuracy), percent(row.testAccuracy)]),
    ),
  )
  console.log(`${end.step} steps in ${fixed(trainingSeconds)} s of training: ${fixed(summary.msPerStep)} ms per step (validation and checkpoints included).`)
  for (const {target, at} of reached) {
    console.log(`${percent(target)} test accuracy: ${at ? `first reached after epoch ${at.epoch}, at ${fixed(at.wallTime)} s` : 'not reached'}`)
  }
}

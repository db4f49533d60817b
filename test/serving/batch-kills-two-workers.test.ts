import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {makeTempDir} from '../helpers/cli.js'
import {recordingLog} from '../helpers/serving-log.js'
import {poisonableWorkers} from './real-workers.js'
import {writeTestExport} from './serving-fixtures.js'
import {SEEDS, predict, predictImage, until, versionOf} from './traffic.js'

/** The pixel value of an image that kills whichever inference worker runs it. */
const POISON = 0.25

describe('a batch that kills a second inference worker, over real HTTP', () => {
  const temp = makeTempDir('mnist-rnn-poison-')
  const {log, errors} = recordingLog()
  let server: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    const options = {...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 2, pollSeconds: 60, batching: false, backend: 'wasm' as const}
    server = await startServer(options, log, [], {startWorker: poisonableWorkers(POISON)})
  })

  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it('answers its caller 500 with a one-line error, logs both deaths, and the server keeps serving', async () => {
    const poisoned = await predictImage(server.url, Array.from({length: 28}, () => Array(28).fill(POISON)))
    expect(poisoned).toEqual({status: 500, logits: undefined, error: 'the batch was running on two inference workers that died (exit code 1)'})
    expect(errors.filter((line) => line.startsWith('inference worker'))).toEqual([
      expect.stringMatching(/^inference worker \d died \(exit code 1\); its batch of 1 is run again on another worker; restarting it in 50 ms$/),
      expect.stringMatching(/^inference worker \d died \(exit code 1\); its batch of 1 failed twice and is answered with an error; restarting it in 100 ms$/),
    ])

    const answers = await Promise.all([0, 1, 2, 3].map((index) => predict(server.url, index)))
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200])
    answers.forEach((answer, index) => expect(versionOf(answer.logits!, index)).toBe(1))
    await until(() => server.pool.restarts === 2, 'both workers restarted')
    expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({status: 'ok', version: 1})
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/^mnist_serving_worker_restarts_total 2$/m)
  })
})

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {makeTempDir} from '../helpers/cli.js'
import {recordingLog} from '../helpers/serving-log.js'
import {trackedWorkers} from './real-workers.js'
import {writeTestExport} from './serving-fixtures.js'
import {SEEDS, steadyTraffic, until} from './traffic.js'

describe('an inference worker that dies, over real HTTP', () => {
  const temp = makeTempDir('mnist-rnn-worker-restart-')
  const {log, lines} = recordingLog()
  const workers = trackedWorkers()
  let server: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 2, pollSeconds: 60, backend: 'wasm'}, log, [], {startWorker: workers.start})
  })

  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it('is restarted and logged, and no request fails', async () => {
    const traffic = steadyTraffic(server.url)
    await until(() => traffic.answers.length >= 10, 'traffic')
    await workers.started[0].terminate()
    const crashedAt = traffic.answers.length
    await until(() => server.pool.restarts === 1 && traffic.answers.length >= crashedAt + 40, 'traffic after the restart')
    await traffic.stop()
    expect(traffic.answers.filter((answer) => answer.status !== 200)).toEqual([])
    expect(lines.some((line) => /^inference worker 0 died \(exit code 1\).*; restarting it/.test(line))).toBe(true)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/^mnist_serving_worker_restarts_total 1$/m)
  })
})

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {makeTempDir} from '../helpers/cli.js'
import {recordingLog} from '../helpers/serving-log.js'
import {writeTestExport} from './serving-fixtures.js'
import {IMAGES, SEEDS, expectClose, matches, predict, referenceFor} from './traffic.js'

describe('batching: batched answers equal unbatched ones and reach the right caller', () => {
  const temp = makeTempDir('mnist-rnn-batching-')
  let batching: RunningServer
  let unbatched: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    const options = {...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, maxBatchSize: 64, pollSeconds: 60, backend: 'wasm' as const}
    // A long batch timeout so that concurrent requests surely share passes.
    batching = await startServer({...options, batchTimeoutMs: 200}, recordingLog().log)
    unbatched = await startServer({...options, batching: false}, recordingLog().log)
  })

  afterAll(async () => {
    await batching?.shutdown()
    await unbatched?.shutdown()
    temp.cleanup()
  })

  async function batchFigures(url: string) {
    const text = await (await fetch(`${url}/metrics`)).text()
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)![1])
    return {passes: value('mnist_serving_batch_requests_count'), requests: value('mnist_serving_batch_requests_sum')}
  }

  it('concurrent single-image requests share forward passes, and each gets its own image’s answer', async () => {
    const indexes = Array.from({length: 48}, (_, i) => i % IMAGES)
    const [batched, single] = await Promise.all([batching, unbatched].map((server) => Promise.all(indexes.map((index) => predict(server.url, index)))))
    const reference = referenceFor(1)
    indexes.forEach((index, i) => {
      expect(batched[i].status).toBe(200)
      expect(matches(batched[i].logits!, reference, index)).toBe(true)
      expectClose(batched[i].logits!, single[i].logits!)
    })
    const merged = await batchFigures(batching.url)
    expect(merged.requests).toBe(48)
    expect(merged.passes).toBeLessThan(48)
    expect(await batchFigures(unbatched.url)).toEqual({passes: 48, requests: 48})
  })
})

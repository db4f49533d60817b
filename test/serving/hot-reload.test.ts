import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {makeTempDir} from '../helpers/cli.js'
import {recordingLog} from '../helpers/serving-log.js'
import {writeTestExport} from './serving-fixtures.js'
import {SEEDS, statusOf, steadyTraffic, until} from './traffic.js'

const POLL_SECONDS = 0.2

describe('hot reload over real HTTP', () => {
  const temp = makeTempDir('mnist-rnn-hot-reload-')
  const {log, lines} = recordingLog()
  let server: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 2, pollSeconds: POLL_SECONDS, backend: 'wasm'}, log)
  })

  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it('a new version published while requests flow is picked up with zero failed requests', async () => {
    const traffic = steadyTraffic(server.url)
    await until(() => traffic.answers.length >= 20, 'traffic on version 1')
    await writeTestExport(temp.dir, 2, SEEDS[2])
    await until(() => traffic.answers.some((answer) => answer.version === 2), 'an answer from version 2')
    const switchedAt = traffic.answers.length
    await until(() => traffic.answers.length >= switchedAt + 20, 'more traffic on version 2')
    await traffic.stop()

    expect(traffic.answers.filter((answer) => answer.status !== 200)).toEqual([])
    expect(traffic.answers.every((answer) => answer.version === 1 || answer.version === 2)).toBe(true)
    expect(traffic.answers[0].version).toBe(1)
    expect(traffic.answers.slice(-traffic.clients).every((answer) => answer.version === 2)).toBe(true)
    expect(await statusOf(server.url)).toEqual([
      {version: '2', state: 'AVAILABLE', status: {error_code: 'OK', error_message: ''}},
      {version: '1', state: 'END', status: {error_code: 'OK', error_message: ''}},
    ])
    expect(lines).toContain('serving mnist version 2 (replaces version 1)')
  })
})

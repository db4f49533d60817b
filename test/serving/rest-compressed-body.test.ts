import {gzipSync} from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {makeTempDir} from '../helpers/cli.js'
import {recordingLog} from '../helpers/serving-log.js'
import {imageRows, writeTestExport} from './serving-fixtures.js'
import {images, predict} from './traffic.js'

describe('a compressed request body over real HTTP', () => {
  const temp = makeTempDir('mnist-rnn-gzip-')
  const {log, errors} = recordingLog()
  let server: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, 1)
    server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, backend: 'wasm'}, log)
  })

  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it.each(['/', '/v1/models/mnist:predict'])('POST %s with Content-Encoding: gzip → 415 with a one-line error; the server keeps serving', async (path) => {
    const body = path === '/' ? {data: imageRows(images, 0)} : {instances: [imageRows(images, 0)]}
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {'content-type': 'application/json', 'content-encoding': 'gzip'},
      body: gzipSync(JSON.stringify(body)),
    })
    expect(response.status).toBe(415)
    expect(await response.json()).toEqual({error: 'unsupported Content-Encoding "gzip": send plain JSON'})
    expect((await predict(server.url, 0)).status).toBe(200)
    expect(errors).toEqual([])
  })
})

import {once} from 'node:events'
import {createServer} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {linesOf, makeTempDir, runCli, startCli, waitForLine} from '../helpers/cli.js'
import {imageRows, mnistTestImages, writeTestExport} from '../serving/serving-fixtures.js'

const SEED = 5
const VERSION = 2
const IN_FLIGHT = 24
const IMAGES_PER_REQUEST = 64

const temp = makeTempDir('mnist-rnn-serve-cli-')
const {images} = mnistTestImages(IMAGES_PER_REQUEST)
const bigRequest = JSON.stringify({instances: Array.from({length: IMAGES_PER_REQUEST}, (_, i) => imageRows(images, i))})

beforeAll(async () => {
  await writeTestExport(temp.dir, VERSION, SEED)
})

afterAll(() => temp.cleanup())

function predict(url: string, body: string) {
  return fetch(`${url}/v1/models/mnist:predict`, {method: 'POST', headers: {'content-type': 'application/json'}, body})
}

describe('mnist-rnn serve (CLI)', () => {
  it('prints model, version, signature, backend, workers and URLs; on SIGTERM it finishes in-flight requests and exits 0', async () => {
    const child = startCli(['serve', '--port', '0', '--model-dir', temp.dir, '--workers', '1', '--poll-seconds', '0.2'])
    const {output, line} = waitForLine(child, /Listening on (http:\/\/127\.0\.0\.1:\d+)/)
    const url = (await line)[1]
    const banner = output()
    expect(banner).toContain(`Model mnist version ${VERSION} from ${temp.dir} (watching for new versions every 0.2 s)`)
    expect(banner).toContain('Signature serving_default: x_input DT_FLOAT [-1, 28, 28] → y_output DT_FLOAT [-1, 10]')
    expect(banner).toMatch(
      /Engine onnxruntime \(auto: onnxruntime-node 1\.\d+\.\d+ loads and version \d+ has model\.onnx\), 1 intra-op thread, 1 inference worker, batching up to 64 images or 2 ms, queue 1024/,
    )
    expect(banner).toContain(`POST ${url}/v1/models/mnist:predict`)

    const exited = once(child, 'exit')
    const requests = Array.from({length: IN_FLIGHT}, () => predict(url, bigRequest))
    await Promise.race(requests)
    child.kill('SIGTERM')
    const answers = await Promise.all(requests)
    expect(answers.map((answer) => answer.status)).toEqual(Array(IN_FLIGHT).fill(200))
    for (const answer of answers) expect(((await answer.json()) as {predictions: number[][]}).predictions).toHaveLength(IMAGES_PER_REQUEST)
    const [code] = await exited
    expect(code).toBe(0)
    expect(output()).toContain('SIGTERM: no new connections; finishing in-flight requests…')
    expect(output()).toContain('Stopped.')
    await expect(predict(url, bigRequest)).rejects.toThrow()
  })

  it('--json prints one JSON line per event; SIGINT stops it with exit 0', async () => {
    const child = startCli(['serve', '--port', '0', '--model-dir', temp.dir, '--workers', '1', '--no-batching', '--engine', 'tfjs', '--json'])
    const {output, line} = waitForLine(child, /^(\{"event":"listening".*\})$/m)
    const started = JSON.parse((await line)[1])
    expect(started).toMatchObject({event: 'listening', model: 'mnist', version: VERSION, engine: 'tfjs', engineReason: '--engine tfjs', backend: 'wasm', workers: 1, batching: false})
    const answer = await fetch(`${started.url}/`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({data: imageRows(images, 0)})})
    expect(answer.status).toBe(200)
    const exited = once(child, 'exit')
    child.kill('SIGINT')
    expect((await exited)[0]).toBe(0)
    const events = linesOf(output()).map((text) => JSON.parse(text).event)
    expect(events).toEqual(['listening', 'draining', 'stopped'])
  })

  it('a missing model directory, a bad flag or a busy port: exit 1 with one line, no stack trace', async () => {
    const missing = runCli(['serve', '--model-dir', '/definitely/not/here', '--workers', '1'])
    expect(missing.status).toBe(1)
    expect(linesOf(missing.stderr).filter((text) => text.startsWith('Error'))).toEqual([
      'Error: model directory /definitely/not/here does not exist (export a model first: mnist-rnn export)',
    ])
    expect(missing.stderr).not.toMatch(/\bat .+\.js:\d+/)

    const badFlag = runCli(['serve', '--model-dir', temp.dir, '--max-batch-size', '0'])
    expect(badFlag.status).toBe(1)
    expect(badFlag.stderr).toContain('Error: --max-batch-size must be a whole number ≥ 1, got 0')

    const busy = createServer().listen(0, '127.0.0.1')
    await once(busy, 'listening')
    const port = (busy.address() as {port: number}).port
    const taken = runCli(['serve', '--model-dir', temp.dir, '--workers', '1', '--port', String(port)])
    busy.close()
    expect(taken.status).toBe(1)
    expect(taken.stderr).toContain(`Error: cannot listen on 127.0.0.1:${port}: the port is in use`)
  })
})

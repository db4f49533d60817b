import {createServer} from 'node:net'
import {once} from 'node:events'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {CliResult, linesOf, makeTempDir, startCli} from '../helpers/cli.js'
import {mnistTestImages, referenceLogits, writeTestExport} from '../serving/serving-fixtures.js'

const SEED = 3
const NUM_TESTS = 30
const quiet = {info: () => {}, warn: () => {}, error: () => {}}
const temp = makeTempDir('mnist-rnn-client-cli-')
let server: RunningServer

/** Runs the CLI without blocking this process, whose event loop serves the requests. */
async function runClient(args: string[]): Promise<CliResult> {
  const child = startCli(['client', ...args])
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const [status] = await once(child, 'exit')
  return {status, stdout, stderr}
}

/** The accuracy the served model must reach on the first NUM_TESTS test images, computed here. */
function expectedAccuracy(): number {
  const {images, labels} = mnistTestImages(NUM_TESTS)
  const logits = referenceLogits(SEED, images)
  let correct = 0
  for (let i = 0; i < NUM_TESTS; i++) {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10))
    if (row.indexOf(Math.max(...row)) === labels[i]) correct++
  }
  return correct / NUM_TESTS
}

beforeAll(async () => {
  await writeTestExport(temp.dir, 1, SEED)
  server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, backend: 'wasm'}, quiet)
})

afterAll(async () => {
  await server?.shutdown()
  temp.cleanup()
})

describe('mnist-rnn client (CLI)', () => {
  it.each(['rest', 'flask'])('--api %s --json reports the model’s real accuracy, no errors, throughput and latency percentiles', async (api) => {
    const result = await runClient(['--url', server.url, '--api', api, '--num-tests', String(NUM_TESTS), '--concurrency', '4', '--json'])
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({api, requests: NUM_TESTS, answered: NUM_TESTS, errors: 0, concurrency: 4, errorSamples: []})
    expect(report.accuracy).toBeCloseTo(expectedAccuracy(), 10)
    expect(report.requestsPerSecond).toBeGreaterThan(0)
    const {p50, p95, p99} = report.latencyMs
    expect(0 < p50 && p50 <= p95 && p95 <= p99).toBe(true)
    expect(report.endpoint).toBe(api === 'rest' ? `${server.url}/v1/models/mnist:predict` : `${server.url}/`)
  })

  it('prints accuracy, errors, throughput and latency as lines', async () => {
    const result = await runClient(['--url', server.url, '--num-tests', '10'])
    expect(result.status).toBe(0)
    const lines = linesOf(result.stdout)
    expect(lines[0]).toBe(`Sent 10 test images to ${server.url}/ (flask API), 1 at a time`)
    expect(lines[1]).toMatch(/^Accuracy: +\d+\.\d\d% \(\d+\/10 answered\)$/)
    expect(lines[2]).toMatch(/^Errors: +0$/)
    expect(lines[3]).toMatch(/^Throughput: +\d+\.\d requests\/s/)
    expect(lines[4]).toMatch(/^Latency: +p50 \d+\.\d ms, p95 \d+\.\d ms, p99 \d+\.\d ms$/)
  })

  it('counts and names server errors (an unknown model) instead of failing', async () => {
    const result = await runClient(['--url', server.url, '--api', 'rest', '--model-name', 'fashion', '--num-tests', '3', '--json'])
    expect(result.status).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({answered: 0, errors: 3, errorSamples: ['HTTP 404: Servable not found for request: Latest(fashion)']})
  })

  it('a server that is not there: exit 1 with one line', async () => {
    const probe = createServer().listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const port = (probe.address() as {port: number}).port
    probe.close()
    const result = await runClient(['--url', `http://127.0.0.1:${port}`, '--num-tests', '2'])
    expect(result.status).toBe(1)
    expect(linesOf(result.stderr)).toEqual([`Error: cannot reach http://127.0.0.1:${port}/: ECONNREFUSED (is mnist-rnn serve running?)`])
  })
})

import * as grpc from '@grpc/grpc-js'
import {ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {createInterface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {GrpcServingClient} from '../../src/lib/client/grpc-client.js'
import {makeTempDir, runCli, runCliAsync, startCli} from '../helpers/cli.js'
import {mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'

const SEED = 3
const IMAGE_COUNT = 3
const CLIENT_TESTS = 30

let exportDir: {dir: string; cleanup: () => void}
let serve: ChildProcess | undefined
let serveExit: Promise<unknown[]>
let serveStderr = ''
/** The gRPC address `serve --json` announced. */
let grpcAddress: string

/** The accuracy the served model must reach on the first `count` test images, computed here. */
function expectedAccuracy(count: number): number {
  const {images, labels} = mnistTestImages(count)
  const logits = referenceLogits(SEED, images)
  let correct = 0
  for (let i = 0; i < count; i++) {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10))
    if (row.indexOf(Math.max(...row)) === labels[i]) correct++
  }
  return correct / count
}

beforeAll(async () => {
  exportDir = makeTempDir('mnist-rnn-grpc-cli-')
  await writeTestExport(exportDir.dir, 1, SEED)
  serve = startCli(['serve', '--model-dir', exportDir.dir, '--port', '0', '--grpc-port', '0', '--workers', '1', '--json'])
  serveExit = once(serve, 'exit')
  serve.stderr!.on('data', (chunk) => (serveStderr += chunk))
  for await (const line of createInterface({input: serve.stdout!})) {
    const event = JSON.parse(line)
    if (event.event === 'listening') {
      expect(event.frontends).toEqual([{name: 'gRPC', address: expect.stringMatching(/^127\.0\.0\.1:\d+$/)}])
      grpcAddress = event.frontends[0].address
      break
    }
  }
  expect(grpcAddress, serveStderr).toBeDefined()
})

afterAll(() => {
  serve?.kill('SIGKILL')
  exportDir?.cleanup()
})

describe('mnist-rnn serve --grpc-port', () => {
  it('serves TF Serving\'s gRPC API beside REST with the model\'s predictions', async () => {
    const {images} = mnistTestImages(IMAGE_COUNT)
    const client = new GrpcServingClient(grpcAddress)
    try {
      const answer = await client.predict(images, IMAGE_COUNT, {encoding: 'tensor_content'})
      expect(answer.version).toBe(1)
      const expected = referenceLogits(SEED, images)
      for (let i = 0; i < expected.length; i++) expect(answer.logits[i]).toBeCloseTo(expected[i], 5)
      expect((await client.status())[0]).toEqual({version: 1, state: 'AVAILABLE', errorMessage: ''})
    } finally {
      client.close()
    }
  })

  it('mnist-rnn client --api grpc reports the model\'s real accuracy, no errors, throughput and latency', async () => {
    const result = await runCliAsync(['client', '--api', 'grpc', '--url', `grpc://${grpcAddress}`, '--num-tests', String(CLIENT_TESTS), '--concurrency', '4', '--json'])
    expect(result.status, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({api: 'grpc', requests: CLIENT_TESTS, answered: CLIENT_TESTS, errors: 0, concurrency: 4, errorSamples: []})
    expect(report.endpoint).toBe(`grpc://${grpcAddress} tensorflow.serving.PredictionService/Predict`)
    expect(report.accuracy).toBeCloseTo(expectedAccuracy(CLIENT_TESTS), 10)
    expect(report.requestsPerSecond).toBeGreaterThan(0)
    expect(report.latencyMs.p50).toBeGreaterThan(0)
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50)
  })

  it('mnist-rnn client --api grpc counts NOT_FOUND answers as errors and names them', async () => {
    const result = await runCliAsync(['client', '--api', 'grpc', '--url', `grpc://${grpcAddress}`, '--model-name', 'fashion', '--num-tests', '3', '--json'])
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({answered: 0, errors: 3})
    expect(report.errorSamples).toEqual(['NOT_FOUND: Servable not found for request: Latest(fashion)'])
  })

  it('mnist-rnn client --api grpc refuses an http:// URL in one line', () => {
    const result = runCli(['client', '--api', 'grpc', '--url', 'http://127.0.0.1:5000', '--num-tests', '1'])
    expect(result.status).toBe(1)
    expect(result.stderr.trim()).toBe('Error: --api grpc needs --url grpc://HOST:PORT (serve --grpc-port), got http://127.0.0.1:5000')
  })

  it('drains and exits 0 on SIGTERM; the client then says the server cannot be reached', async () => {
    serve!.kill('SIGTERM')
    const [code] = await serveExit
    expect(code, serveStderr).toBe(0)
    const result = runCli(['client', '--api', 'grpc', '--url', `grpc://${grpcAddress}`, '--num-tests', '2'])
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/cannot reach grpc:\/\/127\.0\.0\.1:\d+ .*: ECONNREFUSED \(is mnist-rnn serve running\?\)/)
  })
})

describe('mnist-rnn serve --grpc-port, refused', () => {
  it('refuses a port out of range without starting', () => {
    const result = runCli(['serve', '--model-dir', exportDir.dir, '--grpc-port', '70000'])
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/--grpc-port/)
    expect(result.stderr).toMatch(/65535/)
  })

  it('says which address it cannot bind when the gRPC port is taken, and exits 1', async () => {
    const taken = new grpc.Server()
    const port = await new Promise<number>((resolve, reject) =>
      taken.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    )
    try {
      const result = await runCliAsync(['serve', '--model-dir', exportDir.dir, '--port', '0', '--grpc-port', String(port), '--workers', '1'])
      expect(result.status).toBe(1)
      expect(result.stderr).toMatch(new RegExp(`Error: cannot serve gRPC on 127\\.0\\.0\\.1:${port}: `))
      expect(result.stderr).not.toMatch(/\n\s+at /)
    } finally {
      taken.forceShutdown()
    }
  })
})

import * as grpc from '@grpc/grpc-js'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {GrpcServingClient} from '../../src/lib/serving/grpc-client.js'
import {grpcFrontend} from '../../src/lib/serving/grpc-frontend.js'
import {ServeOptions} from '../../src/lib/serving/serve-options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingLog} from '../../src/lib/serving/types.js'
import {makeTempDir} from '../helpers/cli.js'
import {imageRows, mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'

/**
 * gRPC and REST over the real serve stack (model manager, batcher, inference workers): the same
 * answers, one batching queue, one set of metrics, one shutdown.
 */

const SEED = 7
const IMAGE_COUNT = 4
const PIXELS = 784
/** Long enough that a batch in these tests closes only when it is full, or at shutdown. */
const SLOW_BATCH_TIMEOUT_MS = 3000

const quietLog: ServingLog = {info: () => {}, warn: () => {}, error: () => {}}

let exportDir: {dir: string; cleanup: () => void}
let images: Float32Array
let reference: Float32Array

function serveOptions(overrides: Partial<ServeOptions>): ServeOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    modelDir: exportDir.dir,
    modelName: 'mnist',
    maxBatchSize: 64,
    batchTimeoutMs: 2,
    maxQueue: 1024,
    batching: true,
    workers: 1,
    pollSeconds: 60,
    bodyLimit: '1mb',
    backend: 'wasm',
    ...overrides,
  }
}

async function startWithGrpc(overrides: Partial<ServeOptions> = {}): Promise<{server: RunningServer; client: GrpcServingClient}> {
  const server = await startServer(serveOptions(overrides), quietLog, [grpcFrontend({host: '127.0.0.1', port: 0})])
  return {server, client: new GrpcServingClient(server.frontends[0].address)}
}

interface RestPredictBody {
  predictions: number[][]
  error?: string
}

async function restPredict(server: RunningServer, rows: number[][][]): Promise<{status: number; body: RestPredictBody}> {
  const response = await fetch(`${server.url}/v1/models/mnist:predict`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({instances: rows}),
  })
  return {status: response.status, body: (await response.json()) as RestPredictBody}
}

async function metricsText(server: RunningServer): Promise<string> {
  return (await fetch(`${server.url}/metrics`)).text()
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call
  } catch (error) {
    return error as grpc.ServiceError
  }
  throw new Error('expected the call to fail')
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 5)
}

beforeAll(async () => {
  exportDir = makeTempDir('mnist-rnn-grpc-serve-')
  await writeTestExport(exportDir.dir, 1, SEED)
  images = mnistTestImages(IMAGE_COUNT).images
  reference = referenceLogits(SEED, images)
})

afterAll(() => exportDir?.cleanup())

describe('serve with gRPC beside REST', () => {
  let server: RunningServer
  let client: GrpcServingClient

  beforeAll(async () => {
    ;({server, client} = await startWithGrpc())
  })

  afterAll(async () => {
    client?.close()
    await server?.shutdown()
  })

  it('answers Predict with float_val, tensor_content and [N,784] with the model\'s logits, the same as REST', async () => {
    const viaFloats = await client.predict(images, IMAGE_COUNT)
    const viaBytes = await client.predict(images, IMAGE_COUNT, {encoding: 'tensor_content'})
    const flat = await client.predict(images, IMAGE_COUNT, {encoding: 'tensor_content', flat: true})
    const rest = await restPredict(server, Array.from({length: IMAGE_COUNT}, (_, i) => imageRows(images, i)))
    expect(rest.status).toBe(200)
    expect(viaFloats).toMatchObject({modelName: 'mnist', version: 1})
    expectClose(viaFloats.logits, reference)
    expectClose(viaBytes.logits, reference)
    expectClose(flat.logits, reference)
    expectClose(viaFloats.logits, rest.body.predictions.flat())
  })

  it('GetModelMetadata gives the export\'s signature and GetModelStatus the loaded version', async () => {
    const metadata = await client.metadata()
    expect(metadata.version).toBe(1)
    expect(metadata.signatures).toEqual(server.signatures)
    expect(metadata.signatures.serving_default.inputs.x_input).toEqual({name: 'x_input', dtype: 'DT_FLOAT', shape: [-1, 28, 28]})
    expect(await client.status()).toEqual([{version: 1, state: 'AVAILABLE', errorMessage: ''}])
  })

  it('answers bad requests with TF Serving\'s codes: INVALID_ARGUMENT and NOT_FOUND, with what was wrong', async () => {
    const notFinite = images.slice(0, 2 * PIXELS)
    notFinite[PIXELS + 10] = Number.NaN
    for (const encoding of ['float_val', 'tensor_content'] as const) {
      const error = await failure(client.predict(notFinite, 2, {encoding}))
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT)
      expect(error.details).toBe('image 1, pixel 10 is NaN; pixels must be finite numbers')
    }
    notFinite[PIXELS + 10] = -Infinity
    expect((await failure(client.predict(notFinite, 2))).details).toBe('image 1, pixel 10 is -Infinity; pixels must be finite numbers')
    const tooMany = await failure(client.predict(new Float32Array(65 * PIXELS), 65, {encoding: 'tensor_content'}))
    expect(tooMany.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(tooMany.details).toBe('batch of 65 images is over the limit of 64 per request')
    for (const [options, message] of [
      [{modelName: 'fashion'}, /fashion/],
      [{version: 9}, /9/],
      [{signatureName: 'classify'}, /"classify" not found/],
    ] as const) {
      const error = await failure(client.predict(images, 1, options))
      expect(error.code, String(message)).toBe(grpc.status.NOT_FOUND)
      expect(error.details).toMatch(message)
    }
  })

  it('counts gRPC calls in the shared Prometheus metrics by method and (HTTP-equivalent) status', async () => {
    const before = await metricsText(server)
    const ok = 'mnist_serving_requests_total{route="grpc_predict",status="200"}'
    const notFound = 'mnist_serving_requests_total{route="grpc_predict",status="404"}'
    const status = 'mnist_serving_requests_total{route="grpc_model_status",status="200"}'
    await client.predict(images, 1)
    await client.predict(images, 2)
    await failure(client.predict(images, 1, {version: 9}))
    await client.status()
    const after = await metricsText(server)
    expect(metricValue(after, ok) - metricValue(before, ok)).toBe(2)
    expect(metricValue(after, notFound) - metricValue(before, notFound)).toBe(1)
    expect(metricValue(after, status) - metricValue(before, status)).toBe(1)
  })
})

describe('one batching queue for REST and gRPC', () => {
  let server: RunningServer
  let client: GrpcServingClient

  beforeAll(async () => {
    // Batches close when 3 images are waiting (or after SLOW_BATCH_TIMEOUT_MS); 2 requests may wait.
    ;({server, client} = await startWithGrpc({maxBatchSize: 3, batchTimeoutMs: SLOW_BATCH_TIMEOUT_MS, maxQueue: 2}))
  })

  afterAll(async () => {
    client?.close()
    await server?.shutdown()
  })

  async function waitForQueueDepth(depth: number): Promise<void> {
    while (metricValue(await metricsText(server), 'mnist_serving_queue_depth') !== depth) await new Promise((resolve) => setTimeout(resolve, 10))
  }

  it('merges a gRPC request and a REST request into one forward pass, each getting its own rows', async () => {
    const before = await metricsText(server)
    const viaGrpc = client.predict(images.subarray(0, PIXELS), 1)
    await waitForQueueDepth(1)
    const viaRest = restPredict(server, [imageRows(images, 1), imageRows(images, 2)])
    const [grpcAnswer, restAnswer] = await Promise.all([viaGrpc, viaRest])
    expectClose(grpcAnswer.logits, reference.subarray(0, 10))
    expectClose(restAnswer.body.predictions.flat(), reference.subarray(10, 30))
    const after = await metricsText(server)
    // One batch more, holding both requests and all three images.
    expect(metricValue(after, 'mnist_serving_batch_requests_count') - metricValue(before, 'mnist_serving_batch_requests_count')).toBe(1)
    expect(metricValue(after, 'mnist_serving_batch_requests_sum') - metricValue(before, 'mnist_serving_batch_requests_sum')).toBe(2)
    expect(metricValue(after, 'mnist_serving_batch_size_sum') - metricValue(before, 'mnist_serving_batch_size_sum')).toBe(3)
  })

  it('answers UNAVAILABLE with a retry pushback when REST and gRPC requests fill the queue', async () => {
    const first = client.predict(images.subarray(0, PIXELS), 1)
    await waitForQueueDepth(1)
    const second = restPredict(server, [imageRows(images, 3)])
    await waitForQueueDepth(2)
    const full = await failure(client.predict(images, 1))
    expect(full.code).toBe(grpc.status.UNAVAILABLE)
    expect(full.details).toMatch(/queue is full/)
    expect(full.metadata.get('grpc-retry-pushback-ms')).toEqual(['1000'])
    // The two waiting requests are answered when their batch times out.
    expectClose((await first).logits, reference.subarray(0, 10))
    expectClose((await second).body.predictions.flat(), reference.subarray(30, 40))
  })

  it('shutdown finishes a gRPC call waiting in the queue, then refuses new calls', async () => {
    const waiting = client.predict(images.subarray(0, PIXELS), 1)
    await waitForQueueDepth(1)
    const stopped = server.shutdown()
    expectClose((await waiting).logits, reference.subarray(0, 10))
    await stopped
    const refused = await failure(client.predict(images, 1, {deadlineMs: 5000}))
    expect(refused.code).toBe(grpc.status.UNAVAILABLE)
  })
})

import * as grpc from '@grpc/grpc-js'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {GrpcServingClient} from '../../src/lib/client/grpc-client.js'
import {grpcFrontend} from '../../src/lib/serving/grpc/frontend.js'
import {SERVE_DEFAULTS, ServeOptions} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingLog} from '../../src/lib/serving/api.js'
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
    ...SERVE_DEFAULTS,
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
    // One worker: while it runs a batch, requests from both APIs gather in the one queue.
    ;({server, client} = await startWithGrpc({maxBatchSize: 64, batchTimeoutMs: SLOW_BATCH_TIMEOUT_MS, maxQueue: 2}))
  })

  afterAll(async () => {
    client?.close()
    await server?.shutdown()
  })

  /** A burst of single-image requests, alternating gRPC and REST, all sent at once. */
  function burst(count: number) {
    return Array.from({length: count}, (_, i) => {
      const image = i % IMAGE_COUNT
      return i % 2 === 0
        ? {image, api: 'grpc' as const, answer: client.predict(images.subarray(image * PIXELS, (image + 1) * PIXELS), 1).then(
            (result) => ({ok: true as const, logits: Array.from(result.logits)}),
            (error: grpc.ServiceError) => ({ok: false as const, error}),
          )}
        : {image, api: 'rest' as const, answer: fetch(`${server.url}/v1/models/mnist:predict`, {
            method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify({instances: [imageRows(images, image)]}),
          }).then(async (response) => ({status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as RestPredictBody}))}
    })
  }

  it('merges concurrent gRPC and REST requests into shared forward passes, each getting its own rows', async () => {
    const server2 = await startWithGrpc({maxBatchSize: 64, batchTimeoutMs: SLOW_BATCH_TIMEOUT_MS, maxQueue: 1024})
    try {
      const calls = Array.from({length: 16}, (_, i) => {
        const image = i % IMAGE_COUNT
        const pixels = images.subarray(image * PIXELS, (image + 1) * PIXELS)
        return i % 2 === 0
          ? server2.client.predict(pixels, 1).then((result) => ({image, logits: Array.from(result.logits)}))
          : restPredict(server2.server, [imageRows(images, image)]).then((result) => ({image, logits: result.body.predictions.flat()}))
      })
      const metricsBefore = await metricsText(server2.server)
      for (const {image, logits} of await Promise.all(calls)) expectClose(logits, reference.subarray(image * 10, (image + 1) * 10))
      const after = await metricsText(server2.server)
      const batches = metricValue(after, 'mnist_serving_batch_requests_count') - metricValue(metricsBefore, 'mnist_serving_batch_requests_count')
      // All 16 requests went through the one batcher, in fewer forward passes than requests.
      expect(metricValue(after, 'mnist_serving_batch_requests_sum') - metricValue(metricsBefore, 'mnist_serving_batch_requests_sum')).toBe(16)
      expect(metricValue(after, 'mnist_serving_batch_size_sum') - metricValue(metricsBefore, 'mnist_serving_batch_size_sum')).toBe(16)
      expect(batches).toBeLessThan(16)
    } finally {
      server2.client.close()
      await server2.server.shutdown()
    }
  })

  it('answers UNAVAILABLE with a retry pushback (REST: 503 with Retry-After) when a burst from both APIs fills the queue', async () => {
    const calls = burst(60)
    let rejected = 0
    for (const call of calls) {
      const answer = await call.answer
      const expected = reference.subarray(call.image * 10, (call.image + 1) * 10)
      if ('ok' in answer) {
        if (answer.ok) {
          expectClose(answer.logits, expected)
        } else {
          rejected++
          expect(answer.error.code).toBe(grpc.status.UNAVAILABLE)
          expect(answer.error.details).toMatch(/queue is full/)
          expect(answer.error.metadata.get('grpc-retry-pushback-ms')).toEqual(['1000'])
        }
      } else if (answer.status === 200) {
        expectClose(answer.body.predictions.flat(), expected)
      } else {
        rejected++
        expect(answer.status).toBe(503)
        expect(answer.retryAfter).toBe('1')
        expect(answer.body.error).toMatch(/queue is full/)
      }
    }
    expect(rejected).toBeGreaterThan(0)
    expect(rejected).toBeLessThan(60)
  })

  it('shutdown answers the gRPC calls it already took, then refuses new calls with UNAVAILABLE', async () => {
    const calls = burst(20).filter((call) => call.api === 'grpc')
    await calls[0].answer
    const stopped = server.shutdown()
    for (const call of calls) {
      const answer = await call.answer
      if (!('ok' in answer)) continue
      if (answer.ok) expectClose(answer.logits, reference.subarray(call.image * 10, (call.image + 1) * 10))
      else expect(answer.error.code).toBe(grpc.status.UNAVAILABLE)
    }
    await stopped
    const refused = await failure(client.predict(images, 1, {deadlineMs: 5000}))
    expect(refused.code).toBe(grpc.status.UNAVAILABLE)
  })

})

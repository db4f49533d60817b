import {once} from 'node:events'
import {createServer} from 'node:http'
import {AddressInfo} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ServingMetrics} from '../../src/lib/serving/core/metrics.js'
import {createRestListener} from '../../src/lib/serving/rest/app.js'
import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingCore, ServingError, ServingLog} from '../../src/lib/serving/api.js'
import {makeTempDir} from '../helpers/cli.js'
import {imageFlat, imageRows, mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'

const SEED = 7
const VERSION = 3
const MAX_BATCH = 8
const TOLERANCE = 1e-5
const IMAGES = 4

const logged: string[] = []
const log: ServingLog = {info: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m)}
const temp = makeTempDir('mnist-rnn-rest-')
let server: RunningServer
const {images} = mnistTestImages(IMAGES)
const expected = referenceLogits(SEED, images)

function expectedRow(index: number): number[] {
  return Array.from(expected.subarray(index * 10, index * 10 + 10))
}

function softmax(row: number[]): number[] {
  const max = Math.max(...row)
  const exps = row.map((value) => Math.exp(value - max))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((value) => value / sum)
}

function expectRowsClose(actual: number[][], wanted: number[][]): void {
  expect(actual.length).toBe(wanted.length)
  actual.forEach((row, i) => row.forEach((value, k) => expect(Math.abs(value - wanted[i][k])).toBeLessThanOrEqual(TOLERANCE)))
}

async function call(method: string, path: string, body?: unknown, contentType = 'application/json') {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : {'content-type': contentType},
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return {status: response.status, headers: response.headers, text, json: json as Record<string, unknown>}
}

async function metric(name: string): Promise<number> {
  const {text} = await call('GET', '/metrics')
  const match = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)
  return match ? Number(match[1]) : 0
}

beforeAll(async () => {
  await writeTestExport(temp.dir, VERSION, SEED)
  server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, maxBatchSize: MAX_BATCH, backend: 'wasm'}, log)
})

afterAll(async () => {
  await server?.shutdown()
  temp.cleanup()
})

describe('REST API over real HTTP', () => {
  it("POST / (the seed's Flask contract) answers softmax probabilities for a flat, a 28×28 and a batch of images", async () => {
    const flat = await call('POST', '/', {data: imageFlat(images, 0)})
    expect(flat.status).toBe(200)
    expectRowsClose(flat.json.y as number[][], [softmax(expectedRow(0))])
    expect((flat.json.y as number[][])[0].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)

    const rows = await call('POST', '/', {data: imageRows(images, 1)})
    expectRowsClose(rows.json.y as number[][], [softmax(expectedRow(1))])

    const batch = await call('POST', '/', {data: [imageFlat(images, 2), imageRows(images, 3)]})
    expectRowsClose(batch.json.y as number[][], [softmax(expectedRow(2)), softmax(expectedRow(3))])
  })

  it(':predict answers logits in the row format (instances) and the columnar format (inputs)', async () => {
    const row = await call('POST', '/v1/models/mnist:predict', {instances: [imageRows(images, 0), imageFlat(images, 1)]})
    expect(row.status).toBe(200)
    expect(Object.keys(row.json)).toEqual(['predictions'])
    expectRowsClose(row.json.predictions as number[][], [expectedRow(0), expectedRow(1)])

    const named = await call('POST', '/v1/models/mnist:predict', {signature_name: 'serving_default', instances: [{x_input: imageRows(images, 2)}]})
    expectRowsClose(named.json.predictions as number[][], [expectedRow(2)])

    const columnar = await call('POST', '/v1/models/mnist:predict', {inputs: [imageRows(images, 0), imageRows(images, 3)]})
    expect(Object.keys(columnar.json)).toEqual(['outputs'])
    expectRowsClose(columnar.json.outputs as number[][], [expectedRow(0), expectedRow(3)])

    const columnarNamed = await call('POST', '/v1/models/mnist:predict', {inputs: {x_input: [imageFlat(images, 1)]}})
    expectRowsClose(columnarNamed.json.outputs as number[][], [expectedRow(1)])
  })

  it('/versions/N:predict answers with the pinned version', async () => {
    const pinned = await call('POST', `/v1/models/mnist/versions/${VERSION}:predict`, {instances: [imageRows(images, 0)]})
    expect(pinned.status).toBe(200)
    expectRowsClose(pinned.json.predictions as number[][], [expectedRow(0)])
  })

  it('model status, version status and metadata in TF Serving shapes', async () => {
    const expectedStatus = {model_version_status: [{version: String(VERSION), state: 'AVAILABLE', status: {error_code: 'OK', error_message: ''}}]}
    expect((await call('GET', '/v1/models/mnist')).json).toEqual(expectedStatus)
    expect((await call('GET', `/v1/models/mnist/versions/${VERSION}`)).json).toEqual(expectedStatus)
    const metadata = await call('GET', '/v1/models/mnist/metadata')
    expect(metadata.status).toBe(200)
    const dims = (sizes: number[]) => ({dim: sizes.map((size) => ({size: String(size), name: ''})), unknown_rank: false})
    expect(metadata.json).toEqual({
      model_spec: {name: 'mnist', signature_name: '', version: String(VERSION)},
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: {x_input: {dtype: 'DT_FLOAT', tensor_shape: dims([-1, 28, 28]), name: 'x_input'}},
              outputs: {y_output: {dtype: 'DT_FLOAT', tensor_shape: dims([-1, 10]), name: 'y_output'}},
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
      },
    })
    expect((await call('GET', `/v1/models/mnist/versions/${VERSION}/metadata`)).status).toBe(200)
  })

  it('/healthz names the served version; /metrics is Prometheus text', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({status: 200, json: {status: 'ok', model: 'mnist', version: VERSION}})
    const metrics = await call('GET', '/metrics')
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(metrics.text).toContain('# TYPE mnist_serving_requests_total counter')
    expect(await metric('mnist_serving_model_version{model="mnist"}')).toBe(VERSION)
    expect(await metric('process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('/metrics counts the requests sent, by route and status, and the images batched', async () => {
    const before = {
      flask: await metric('mnist_serving_requests_total{route="flask",status="200"}'),
      predict: await metric('mnist_serving_requests_total{route="predict",status="200"}'),
      bad: await metric('mnist_serving_requests_total{route="predict",status="400"}'),
      images: await metric('mnist_serving_batch_size_sum'),
    }
    for (let i = 0; i < 3; i++) await call('POST', '/', {data: imageFlat(images, i)})
    for (let i = 0; i < 2; i++) await call('POST', '/v1/models/mnist:predict', {instances: [imageRows(images, 0), imageRows(images, 1)]})
    await call('POST', '/v1/models/mnist:predict', {instances: []})
    expect(await metric('mnist_serving_requests_total{route="flask",status="200"}')).toBe(before.flask + 3)
    expect(await metric('mnist_serving_requests_total{route="predict",status="200"}')).toBe(before.predict + 2)
    expect(await metric('mnist_serving_requests_total{route="predict",status="400"}')).toBe(before.bad + 1)
    expect(await metric('mnist_serving_batch_size_sum')).toBe(before.images + 3 + 4)
    expect(await metric('mnist_serving_request_duration_seconds_count{route="flask"}')).toBeGreaterThanOrEqual(3)
  })
})

const row = () => imageRows(images, 0)
const pixels = () => imageFlat(images, 0)
const withPixel = (value: unknown) => {
  const image = pixels() as unknown[]
  image[100] = value
  return image
}

/** Every class of bad input, its status, and what its one-line error must say. */
const BAD_INPUTS: Array<{name: string; method?: string; path: string; body?: unknown; contentType?: string; status: number; error: RegExp}> = [
  {name: 'malformed JSON', path: '/', body: '{"data": [1, 2', status: 400, error: /^malformed JSON: /},
  {name: 'NaN literal (not JSON)', path: '/', body: '{"data": [NaN]}', status: 400, error: /NaN and Infinity are not JSON numbers/},
  {name: 'a non-JSON content type', path: '/', body: 'data=1', contentType: 'text/plain', status: 415, error: /Content-Type must be application\/json, got text\/plain/},
  {name: 'a JSON body in another charset', path: '/', body: '{"data": []}', contentType: 'application/json; charset=latin1', status: 415, error: /unsupported charset "latin1"/},
  {name: 'an empty body', path: '/v1/models/mnist:predict', body: '', status: 400, error: /^empty body: send a JSON object$/},
  {name: 'a body over the limit', path: '/', body: `{"data": [${'0.5,'.repeat(300_000)}0]}`, status: 413, error: /over the 1mb limit/},
  {name: 'a body that is not an object', path: '/', body: [1, 2], status: 400, error: /the body must be a JSON object, got a list/},
  {name: 'missing "data"', path: '/', body: {image: pixels()}, status: 400, error: /^missing "data"/},
  {name: 'missing "instances"/"inputs"', path: '/v1/models/mnist:predict', body: {data: [pixels()]}, status: 400, error: /^missing "instances" or "inputs"/},
  {name: 'both "instances" and "inputs"', path: '/v1/models/mnist:predict', body: {instances: [row()], inputs: [row()]}, status: 400, error: /not both/},
  {name: 'wrong element count', path: '/', body: {data: pixels().slice(1)}, status: 400, error: /^data has 783 values; an image is 784 numbers or 28 rows of 28$/},
  {name: 'wrong shape (27 rows)', path: '/v1/models/mnist:predict', body: {instances: [row().slice(1)]}, status: 400, error: /^instances\[0\] has 27 values/},
  {name: 'wrong shape (a short row)', path: '/v1/models/mnist:predict', body: {inputs: [[...row().slice(0, 5), row()[5].slice(1), ...row().slice(6)]]}, status: 400, error: /^inputs\[0\]\[5\] has 27 values; expected a row of 28 numbers$/},
  {name: 'a string pixel', path: '/', body: {data: withPixel('0.5')}, status: 400, error: /^data\[100\] is a string \("0.5"\); pixels must be finite numbers$/},
  {name: 'a null pixel', path: '/', body: {data: withPixel(null)}, status: 400, error: /^data\[100\] is null/},
  {name: 'a boolean pixel', path: '/v1/models/mnist:predict', body: {instances: [withPixel(true)]}, status: 400, error: /^instances\[0\]\[100\] is a boolean/},
  {name: 'an "NaN" string pixel', path: '/', body: {data: withPixel('NaN')}, status: 400, error: /is a string \("NaN"\)/},
  {name: 'an Infinity pixel (1e999)', path: '/', body: `{"data": [${pixels().slice(0, 783).join(',')}, 1e999]}`, status: 400, error: /^data\[783\] is Infinity; pixels must be finite numbers$/},
  {name: 'a -Infinity pixel (-1e999)', path: '/v1/models/mnist:predict', body: `{"inputs": [[-1e999${',0'.repeat(783)}]]}`, status: 400, error: /^inputs\[0\]\[0\] is -Infinity/},
  {name: 'an empty batch (data)', path: '/', body: {data: []}, status: 400, error: /^empty batch/},
  {name: 'an empty batch (instances)', path: '/v1/models/mnist:predict', body: {instances: []}, status: 400, error: /^empty batch: instances holds no images$/},
  {name: 'an empty batch (inputs)', path: '/v1/models/mnist:predict', body: {inputs: {x_input: []}}, status: 400, error: /^empty batch/},
  {name: 'a batch over the limit', path: '/v1/models/mnist:predict', body: {instances: Array.from({length: MAX_BATCH + 1}, row)}, status: 400, error: /^batch of 9 images is over the limit of 8 per request$/},
  {name: 'an unknown input name', path: '/v1/models/mnist:predict', body: {inputs: {images: [row()]}}, status: 400, error: /unknown input "images"/},
  {name: 'an unknown model name', path: '/v1/models/fashion:predict', body: {instances: [row()]}, status: 404, error: /^Servable not found for request: Latest\(fashion\)$/},
  {name: 'an unknown model (status)', method: 'GET', path: '/v1/models/fashion', status: 404, error: /Latest\(fashion\)/},
  {name: 'an unknown version', path: '/v1/models/mnist/versions/99:predict', body: {instances: [row()]}, status: 404, error: /^Servable not found for request: Specific\(mnist, 99\)/},
  {name: 'an unknown version (metadata)', method: 'GET', path: '/v1/models/mnist/versions/99/metadata', status: 404, error: /Specific\(mnist, 99\)/},
  {name: 'an unknown signature', path: '/v1/models/mnist:predict', body: {signature_name: 'classify', instances: [row()]}, status: 404, error: /^Serving signature name: "classify" not found in signature def$/},
  {name: 'a non-string signature', path: '/v1/models/mnist:predict', body: {signature_name: 3, instances: [row()]}, status: 400, error: /"signature_name" must be a string/},
  {name: 'GET on :predict', method: 'GET', path: '/v1/models/mnist:predict', status: 405, error: /^Method GET is not allowed on \/v1\/models\/mnist:predict \(use POST\)$/},
  {name: 'GET on the Flask route', method: 'GET', path: '/', status: 405, error: /use POST/},
  {name: 'POST on model status', method: 'POST', path: '/v1/models/mnist', body: {}, status: 405, error: /use GET/},
  {name: 'DELETE on /metrics', method: 'DELETE', path: '/metrics', status: 405, error: /use GET/},
  {name: 'an unknown verb', path: '/v1/models/mnist:classify', body: {instances: [row()]}, status: 404, error: /^Malformed request: POST \/v1\/models\/mnist:classify$/},
  {name: 'an unknown path', method: 'GET', path: '/v2/whatever', status: 404, error: /^Malformed request: GET \/v2\/whatever$/},
]

describe('bad input: a 4xx with a one-line {"error"}, no tensor leak, the server unaffected', () => {
  it.each(BAD_INPUTS)('$name → $status', async ({method = 'POST', path, body, contentType, status, error}) => {
    const answer = await call(method, path, body, contentType)
    expect(answer.status).toBe(status)
    expect(Object.keys(answer.json ?? {})).toEqual(['error'])
    const message = answer.json.error as string
    expect(message).toMatch(error)
    expect(message).not.toContain('\n')
    expect(answer.text).not.toMatch(/\bat .+\.(?:js|ts):\d+/)
    if (status === 405) expect(answer.headers.get('allow')).toMatch(/^(GET, HEAD|POST)$/)
  })

  it('after all of them the tensor count is unchanged and predictions are still right', async () => {
    const tensorsBefore = await metric('mnist_serving_num_tensors')
    for (const bad of BAD_INPUTS) await call(bad.method ?? 'POST', bad.path, bad.body, bad.contentType)
    const good = await call('POST', '/v1/models/mnist:predict', {instances: [imageRows(images, 2)]})
    expectRowsClose(good.json.predictions as number[][], [expectedRow(2)])
    expect(await metric('mnist_serving_num_tensors')).toBe(tensorsBefore)
    // TF.js tensors: the tfjs engine's weights; ONNX Runtime holds none (test/serving/engines.test.ts runs both).
    expect(tensorsBefore).toBe(server.engine.engine === 'tfjs' ? 10 : 0)
    expect(logged.filter((line) => /error/i.test(line))).toEqual([])
  })
})

describe('a full queue over HTTP', () => {
  it('answers 503 with Retry-After and a one-line error, as TF Serving answers UNAVAILABLE', async () => {
    const full = new ServingError('UNAVAILABLE', 'the request queue is full (1024 waiting); retry later', 1)
    const core: ServingCore = {
      predict: async () => {
        throw full
      },
      metadata: () => server.core.metadata('mnist'),
      status: () => [],
    }
    const listener = createRestListener({core, modelName: 'mnist', metrics: new ServingMetrics(), bodyLimitBytes: 1 << 20, bodyLimitText: '1mb', log})
    const busy = createServer(listener).listen(0, '127.0.0.1')
    await once(busy, 'listening')
    try {
      const response = await fetch(`http://127.0.0.1:${(busy.address() as AddressInfo).port}/`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({data: imageFlat(images, 0)}),
      })
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toBe('1')
      expect(await response.json()).toEqual({error: 'the request queue is full (1024 waiting); retry later'})
    } finally {
      busy.close()
    }
  })
})

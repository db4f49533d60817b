import {once} from 'node:events'
import {createServer} from 'node:http'
import {AddressInfo} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runLoadClient} from '../../src/lib/client/load-client.js'
import {ServingMetrics} from '../../src/lib/serving/core/metrics.js'
import {createRestListener} from '../../src/lib/serving/rest/app.js'
import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingCore, ServingError, ServingLog} from '../../src/lib/serving/api.js'
import {makeTempDir} from '../helpers/cli.js'
import {mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'
import {CLASSES, PIXELS, argmaxRows, bytesOf, expectLogits, floatsOf} from './v2-fixtures.js'

/**
 * The Open Inference Protocol's REST API (KServe V2) over the real serve stack, driven by a client
 * written here from the specification (inference_rest.md) and Triton's binary tensor extension
 * (extension_binary_data.md, extension_classification.md), not by the library's own client.
 */

const SEED = 7
const VERSION = 3
const MAX_BATCH = 64

const logged: string[] = []
const log: ServingLog = {info: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m)}
const temp = makeTempDir('mnist-rnn-v2-rest-')
let server: RunningServer
const mnist = mnistTestImages(MAX_BATCH)
/** What `eval` computes for these images: the classifier's logits, in this process. */
const expected = referenceLogits(SEED, mnist.images)

// ---- a V2 REST client, from the specification -------------------------------------------------

interface V2Output {
  name: string
  datatype: string
  shape: number[]
  data?: unknown[]
  parameters?: Record<string, unknown>
}

interface V2Answer {
  status: number
  headers: Headers
  /** The JSON object (the header, for a binary answer). */
  json: Record<string, unknown> & {outputs?: V2Output[]; error?: string}
  /** Binary tensor data after the JSON header, by output name. */
  binary: Map<string, Buffer>
}

function images(count: number): Float32Array {
  return mnist.images.slice(0, count * PIXELS)
}

function nested(values: Float32Array, count: number): number[][][] {
  return Array.from({length: count}, (_, i) => Array.from({length: 28}, (_, r) => Array.from(values.subarray(i * PIXELS + r * 28, i * PIXELS + r * 28 + 28))))
}

async function v2(method: string, path: string, body?: string | Buffer | object, headers: Record<string, string> = {}): Promise<V2Answer> {
  const payload = body === undefined || typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body)
  const response = await fetch(`${server.url}${path}`, {method, headers, body: payload})
  const bytes = Buffer.from(await response.arrayBuffer())
  const headerLength = response.headers.get('inference-header-content-length')
  const jsonEnd = headerLength === null ? bytes.length : Number(headerLength)
  const text = bytes.subarray(0, jsonEnd).toString('utf8')
  const json = text ? JSON.parse(text) : {}
  const binary = new Map<string, Buffer>()
  let offset = jsonEnd
  for (const output of (json.outputs ?? []) as V2Output[]) {
    const size = output.parameters?.binary_data_size as number | undefined
    if (size === undefined) continue
    binary.set(output.name, bytes.subarray(offset, offset + size))
    offset += size
  }
  expect(offset).toBe(bytes.length)
  return {status: response.status, headers: response.headers, json, binary}
}

/** A request with binary inputs: JSON header, then the tensor's little-endian bytes. */
function binaryRequest(header: object, data: Buffer): {body: Buffer; headers: Record<string, string>} {
  const json = Buffer.from(JSON.stringify(header))
  return {body: Buffer.concat([json, data]), headers: {'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(json.length)}}
}



/** BYTES elements: a little-endian uint32 length before each. */
function stringsOf(bytes: Buffer): string[] {
  const strings: string[] = []
  for (let offset = 0; offset < bytes.length; ) {
    const length = bytes.readUInt32LE(offset)
    strings.push(bytes.subarray(offset + 4, offset + 4 + length).toString('utf8'))
    offset += 4 + length
  }
  return strings
}

function output(answer: V2Answer, name: string): V2Output {
  const found = answer.json.outputs?.find((candidate) => candidate.name === name)
  if (!found) throw new Error(`no output ${name} in ${JSON.stringify(answer.json).slice(0, 200)}`)
  return found
}



function softmax(values: ArrayLike<number>, count: number): number[] {
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const row = Array.from({length: CLASSES}, (_, k) => values[i * CLASSES + k])
    const max = Math.max(...row)
    const exps = row.map((value) => Math.exp(value - max))
    const sum = exps.reduce((a, b) => a + b, 0)
    out.push(...exps.map((value) => value / sum))
  }
  return out
}

function jsonInput(count: number, data: unknown = Array.from(images(count)), shape = [count, PIXELS]) {
  return {name: 'x_input', shape, datatype: 'FP32', data}
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

beforeAll(async () => {
  await writeTestExport(temp.dir, VERSION, SEED)
  server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, maxBatchSize: MAX_BATCH, backend: 'wasm'}, log)
})

afterAll(async () => {
  await server?.shutdown()
  temp.cleanup()
})

describe('V2 REST: health and metadata', () => {
  it('GET /v2 names the server, its version and the extensions it supports', async () => {
    const answer = await v2('GET', '/v2')
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual({name: 'mnist-rnn', version: expect.stringMatching(/^\d+\.\d+\.\d+/), extensions: ['binary_tensor_data', 'classification']})
  })

  it('live and ready answer 200 with their booleans', async () => {
    expect(await v2('GET', '/v2/health/live')).toMatchObject({status: 200, json: {live: true}})
    expect(await v2('GET', '/v2/health/ready')).toMatchObject({status: 200, json: {ready: true}})
    expect(await v2('GET', '/v2/models/mnist/ready')).toMatchObject({status: 200, json: {name: 'mnist', ready: true}})
    expect(await v2('GET', `/v2/models/mnist/versions/${VERSION}/ready`)).toMatchObject({status: 200, json: {name: 'mnist', ready: true}})
  })

  it('model metadata lists the input, the logits and the probabilities output, latest and by version', async () => {
    const metadata = {
      name: 'mnist',
      versions: [String(VERSION)],
      platform: server.engine.engine === 'onnxruntime' ? 'onnxruntime_onnx' : 'tensorflowjs_layers',
      inputs: [{name: 'x_input', datatype: 'FP32', shape: [-1, 28, 28]}],
      outputs: [
        {name: 'y_output', datatype: 'FP32', shape: [-1, 10]},
        {name: 'probabilities', datatype: 'FP32', shape: [-1, 10]},
      ],
    }
    expect(await v2('GET', '/v2/models/mnist')).toMatchObject({status: 200, json: metadata})
    expect(await v2('GET', `/v2/models/mnist/versions/${VERSION}`)).toMatchObject({status: 200, json: metadata})
  })
})

describe('V2 REST: inference gets what eval computes', () => {
  it.each([1, 64])('JSON, flat and nested data, batch of %i', async (count) => {
    const flat = await v2('POST', '/v2/models/mnist/infer', {id: `flat-${count}`, inputs: [jsonInput(count)], outputs: [{name: 'y_output'}]})
    expect(flat.status).toBe(200)
    expect(flat.headers.get('content-type')).toBe('application/json')
    expect(flat.json).toMatchObject({model_name: 'mnist', model_version: String(VERSION), id: `flat-${count}`})
    expect(flat.json.outputs!.map((o) => o.name)).toEqual(['y_output'])
    expect(output(flat, 'y_output')).toMatchObject({datatype: 'FP32', shape: [count, 10]})
    expectLogits(output(flat, 'y_output').data as number[], expected, count)

    const rows = await v2('POST', `/v2/models/mnist/versions/${VERSION}/infer`, {inputs: [jsonInput(count, nested(images(count), count), [count, 28, 28])], outputs: [{name: 'y_output'}]})
    expect(rows.status).toBe(200)
    expect(rows.json.id).toBeUndefined()
    expectLogits(output(rows, 'y_output').data as number[], expected, count)
  })

  it.each([1, 64])('binary tensors both ways, batch of %i', async (count) => {
    const header = {inputs: [{name: 'x_input', shape: [count, 28, 28], datatype: 'FP32', parameters: {binary_data_size: count * PIXELS * 4}}], outputs: [{name: 'y_output', parameters: {binary_data: true}}]}
    const {body, headers} = binaryRequest(header, bytesOf(images(count)))
    const answer = await v2('POST', '/v2/models/mnist/infer', body, headers)
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toBe('application/octet-stream')
    expect(output(answer, 'y_output')).toEqual({name: 'y_output', datatype: 'FP32', shape: [count, 10], parameters: {binary_data_size: count * CLASSES * 4}})
    expectLogits(floatsOf(answer.binary.get('y_output')!), expected, count)
  })

  it('binary inputs with JSON outputs, and JSON inputs with binary_data_output', async () => {
    const header = {inputs: [{name: 'x_input', shape: [2, PIXELS], datatype: 'FP32', parameters: {binary_data_size: 2 * PIXELS * 4}}], outputs: [{name: 'y_output'}]}
    const {body, headers} = binaryRequest(header, bytesOf(images(2)))
    const jsonOut = await v2('POST', '/v2/models/mnist/infer', body, headers)
    expect(jsonOut.headers.get('content-type')).toBe('application/json')
    expectLogits(output(jsonOut, 'y_output').data as number[], expected, 2)

    const allBinary = await v2('POST', '/v2/models/mnist/infer', {parameters: {binary_data_output: true}, inputs: [jsonInput(2)], outputs: [{name: 'y_output'}, {name: 'probabilities', parameters: {binary_data: false}}]})
    expect(allBinary.headers.get('content-type')).toBe('application/octet-stream')
    expectLogits(floatsOf(allBinary.binary.get('y_output')!), expected, 2)
    expect(allBinary.binary.has('probabilities')).toBe(false)
    const probabilities = output(allBinary, 'probabilities').data as number[]
    softmax(expected, 2).forEach((p, i) => expect(Math.abs(probabilities[i] - p)).toBeLessThanOrEqual(1e-6))
  })

  it('a request naming no outputs gets every output the metadata lists, logits then probabilities', async () => {
    const answer = await v2('POST', '/v2/models/mnist/infer', {inputs: [jsonInput(3)]})
    expect(answer.json.outputs!.map((o) => o.name)).toEqual(['y_output', 'probabilities'])
    expectLogits(output(answer, 'y_output').data as number[], expected, 3)
    const probabilities = output(answer, 'probabilities').data as number[]
    softmax(expected, 3).forEach((p, i) => expect(Math.abs(probabilities[i] - p)).toBeLessThanOrEqual(1e-6))
  })

  it('the classification parameter answers the top-k classes as "value:index" BYTES, [N, k], JSON or binary', async () => {
    const count = 4
    const answer = await v2('POST', '/v2/models/mnist/infer', {
      inputs: [jsonInput(count)],
      outputs: [{name: 'y_output', parameters: {classification: 3}}, {name: 'probabilities', parameters: {classification: 1, binary_data: true}}],
    })
    expect(answer.status).toBe(200)
    const top3 = output(answer, 'y_output')
    expect(top3).toMatchObject({datatype: 'BYTES', shape: [count, 3]})
    const strings = top3.data as string[]
    for (let i = 0; i < count; i++) {
      const row = Array.from(expected.subarray(i * CLASSES, (i + 1) * CLASSES))
      const order = row.map((value, index) => ({value, index})).sort((a, b) => b.value - a.value)
      for (let rank = 0; rank < 3; rank++) {
        const [value, index] = strings[i * 3 + rank].split(':')
        expect(Number(index)).toBe(order[rank].index)
        expect(value).toMatch(/^-?\d+\.\d{6}$/)
        expect(Math.abs(Number(value) - order[rank].value)).toBeLessThanOrEqual(1e-5)
      }
    }
    expect(output(answer, 'probabilities')).toMatchObject({datatype: 'BYTES', shape: [count, 1]})
    const best = stringsOf(answer.binary.get('probabilities')!).map((text) => Number(text.split(':')[1]))
    expect(best).toEqual(argmaxRows(expected, count))
  })

  it("Triton's raw binary request (Inference-Header-Content-Length: 0): one image in, every output binary", async () => {
    const answer = await v2('POST', '/v2/models/mnist/infer', bytesOf(images(1)), {'Inference-Header-Content-Length': '0'})
    expect(answer.status).toBe(200)
    expect(answer.json.outputs!.map((o) => o.name)).toEqual(['y_output', 'probabilities'])
    expectLogits(floatsOf(answer.binary.get('y_output')!), expected, 1)
  })

  it('counts V2 requests in /metrics under their own routes, in the shared batching metrics', async () => {
    const ok = 'mnist_serving_requests_total{route="v2_infer",status="200"}'
    const bad = 'mnist_serving_requests_total{route="v2_infer",status="400"}'
    const before = {ok: await metric(ok), bad: await metric(bad), images: await metric('mnist_serving_batch_size_sum')}
    await v2('POST', '/v2/models/mnist/infer', {inputs: [jsonInput(2)]})
    await v2('POST', '/v2/models/mnist/infer', {inputs: [{...jsonInput(1), datatype: 'FP64'}]})
    expect(await metric(ok)).toBe(before.ok + 1)
    expect(await metric(bad)).toBe(before.bad + 1)
    expect(await metric('mnist_serving_batch_size_sum')).toBe(before.images + 2)
    expect(await metric('mnist_serving_requests_total{route="v2_health_ready",status="200"}')).toBeGreaterThanOrEqual(1)
  })

  it.each(['v2', 'v2-binary'] as const)('mnist-rnn client --api %s gets every answer and eval\'s predictions', async (api) => {
    const report = await runLoadClient({url: server.url, api, numTests: 16, concurrency: 4, timeoutMs: 30_000})
    const wanted = argmaxRows(referenceLogits(SEED, mnistTestImages(16).images), 16)
    const labels = mnistTestImages(16).labels
    expect(report).toMatchObject({answered: 16, errors: 0, correct: wanted.filter((digit, i) => digit === labels[i]).length})
    expect(report.endpoint).toBe(`${server.url}/v2/models/mnist/infer`)
  })
})

const one = () => Array.from(images(1))
const withValue = (value: unknown) => {
  const data: unknown[] = one()
  data[100] = value
  return data
}
const binaryHeader = (size: number, shape = [1, PIXELS]) => ({inputs: [{name: 'x_input', shape, datatype: 'FP32', parameters: {binary_data_size: size}}]})
const withBinary = (header: object, data: Buffer, headerLength?: string) => {
  const request = binaryRequest(header, data)
  return {body: request.body, headers: {...request.headers, ...(headerLength === undefined ? {} : {'Inference-Header-Content-Length': headerLength})}}
}
const nanImage = () => {
  const values = images(1)
  values[5] = Number.NaN
  return bytesOf(values)
}

interface BadRequest {
  name: string
  method?: string
  path?: string
  body?: string | Buffer | object
  headers?: Record<string, string>
  status: number
  error: RegExp
}

/** Every class of malformed V2 request, its status, and what its one-line error must say. */
const BAD_REQUESTS: BadRequest[] = [
  {name: 'wrong datatype', body: {inputs: [{...jsonInput(1), datatype: 'FP64'}]}, status: 400, error: /^input x_input has datatype FP64; the model takes FP32$/},
  {name: 'no datatype', body: {inputs: [{name: 'x_input', shape: [1, PIXELS], data: one()}]}, status: 400, error: /^input x_input: datatype must be a string, got nothing$/},
  {name: 'wrong shape', body: {inputs: [jsonInput(1, one(), [1, 28])]}, status: 400, error: /^input x_input has shape \[1,28\]; expected \[N,28,28\] or \[N,784\]$/},
  {name: 'a negative shape', body: {inputs: [jsonInput(1, one(), [-1, PIXELS])]}, status: 400, error: /^input x_input: shape\[0\] must be a whole number ≥ 0, got -1$/},
  {name: 'shape/data mismatch (too few)', body: {inputs: [jsonInput(1, one().slice(1))]}, status: 400, error: /^input x_input has 783 values for shape \[1,784\] \(784 expected\)$/},
  {name: 'shape/data mismatch (too many)', body: {inputs: [jsonInput(1, Array.from(images(2)))]}, status: 400, error: /^input x_input has 1568 values for shape \[1,784\] \(784 expected\)$/},
  {name: 'data nested deeper than the shape', body: {inputs: [jsonInput(1, [[one()]])]}, status: 400, error: /^input x_input data is nested deeper than its shape \[1,784\]$/},
  {name: 'a string value', body: {inputs: [jsonInput(1, withValue('0.5'))]}, status: 400, error: /^input x_input data\[100\] is a string \("0.5"\); values must be finite numbers$/},
  {name: 'a null value', body: {inputs: [jsonInput(1, withValue(null))]}, status: 400, error: /^input x_input data\[100\] is null/},
  {name: 'NaN (not JSON)', body: `{"inputs": [{"name": "x_input", "shape": [1, 784], "datatype": "FP32", "data": [NaN${',0'.repeat(783)}]}]}`, status: 400, error: /NaN and Infinity are not JSON numbers/},
  {name: 'Infinity (1e999)', body: `{"inputs": [{"name": "x_input", "shape": [1, 784], "datatype": "FP32", "data": [${'0,'.repeat(783)}1e999]}]}`, status: 400, error: /^image 0, pixel 783 is Infinity; pixels must be finite numbers$/},
  {name: 'NaN in binary data', ...withBinary(binaryHeader(PIXELS * 4), nanImage()), status: 400, error: /^image 0, pixel 5 is NaN; pixels must be finite numbers$/},
  {name: 'a header length that is not a number', ...withBinary(binaryHeader(PIXELS * 4), bytesOf(images(1)), 'abc'), status: 400, error: /^Inference-Header-Content-Length must be a whole number of bytes from 0 to the body's \d+, got "abc"$/},
  {name: 'a header length past the body', ...withBinary(binaryHeader(PIXELS * 4), bytesOf(images(1)), '999999'), status: 400, error: /^Inference-Header-Content-Length must be a whole number of bytes from 0 to the body's \d+, got "999999"$/},
  {name: 'a header length that cuts the JSON short', ...withBinary(binaryHeader(PIXELS * 4), bytesOf(images(1)), '20'), status: 400, error: /^malformed JSON: /},
  {name: 'a header length that runs into the tensor bytes', ...withBinary(binaryHeader(PIXELS * 4), bytesOf(images(1)), String(JSON.stringify(binaryHeader(PIXELS * 4)).length + 4)), status: 400, error: /^malformed JSON: /},
  {name: 'binary_data_size that does not fit the shape', ...withBinary(binaryHeader(100), bytesOf(images(1)).subarray(0, 100)), status: 400, error: /^input x_input has binary_data_size of 100 bytes for FP32 shape \[1,784\] \(3136 expected\)$/},
  {name: 'fewer tensor bytes than binary_data_size', ...withBinary(binaryHeader(PIXELS * 4), bytesOf(images(1)).subarray(0, 3000)), status: 400, error: /^the body has 3000 bytes of binary data after its JSON header, but the inputs' binary_data_size add up to 3136$/},
  {name: 'more tensor bytes than binary_data_size', ...withBinary(binaryHeader(PIXELS * 4), bytesOf(images(2))), status: 400, error: /^the body has 6272 bytes of binary data after its JSON header, but the inputs' binary_data_size add up to 3136$/},
  {name: 'binary_data_size without the header', body: binaryHeader(PIXELS * 4), status: 400, error: /^input x_input has parameters.binary_data_size but the request has no Inference-Header-Content-Length header$/},
  {name: 'both data and binary_data_size', body: {inputs: [{...jsonInput(1), parameters: {binary_data_size: PIXELS * 4}}]}, status: 400, error: /^input x_input must have exactly one of "data" and parameters.binary_data_size, got both$/},
  {name: 'neither data nor binary_data_size', body: {inputs: [{name: 'x_input', shape: [1, PIXELS], datatype: 'FP32'}]}, status: 400, error: /got neither$/},
  {name: 'a raw binary body of the wrong size', body: bytesOf(images(2)), headers: {'Inference-Header-Content-Length': '0'}, status: 400, error: /^input x_input has a raw binary body \(Inference-Header-Content-Length 0\) of 6272 bytes for FP32 shape \[1,28,28\] \(3136 expected\)$/},
  {name: 'an unknown output name', body: {inputs: [jsonInput(1)], outputs: [{name: 'logits'}]}, status: 400, error: /^unknown output "logits"; the model's outputs are \{y_output, probabilities\}$/},
  {name: 'an output asked for twice', body: {inputs: [jsonInput(1)], outputs: [{name: 'y_output'}, {name: 'y_output'}]}, status: 400, error: /^output y_output is requested twice$/},
  {name: 'a classification that is not a count', body: {inputs: [jsonInput(1)], outputs: [{name: 'y_output', parameters: {classification: 2.5}}]}, status: 400, error: /^output y_output: parameters.classification must be a whole number ≥ 0, got 2.5$/},
  {name: 'binary_data that is not a boolean', body: {inputs: [jsonInput(1)], outputs: [{name: 'y_output', parameters: {binary_data: 'yes'}}]}, status: 400, error: /^output y_output: parameters.binary_data must be true or false, got a string/},
  {name: 'binary_data_output that is not a boolean', body: {parameters: {binary_data_output: 1}, inputs: [jsonInput(1)]}, status: 400, error: /^parameters.binary_data_output must be true or false, got 1$/},
  {name: 'an unknown input name', body: {inputs: [{...jsonInput(1), name: 'images'}]}, status: 400, error: /^unknown input "images"; the model's input is x_input$/},
  {name: 'the input twice', body: {inputs: [jsonInput(1), jsonInput(1)]}, status: 400, error: /^input x_input is given 2 times$/},
  {name: 'no inputs', body: {inputs: []}, status: 400, error: /^the request has no inputs; the model takes x_input FP32 \[-1,28,28\]$/},
  {name: 'inputs that are not a list', body: {inputs: {x_input: one()}}, status: 400, error: /^"inputs" must be a list of input tensors, got an object$/},
  {name: 'an id that is not a string', body: {id: 42, inputs: [jsonInput(1)]}, status: 400, error: /^"id" must be a string, got 42$/},
  {name: 'an empty batch', body: {inputs: [jsonInput(0, [])]}, status: 400, error: /^input x_input is an empty batch: N must be at least 1$/},
  {name: 'a batch over the limit', body: {inputs: [jsonInput(MAX_BATCH + 1, Array.from({length: (MAX_BATCH + 1) * PIXELS}, () => 0))]}, status: 400, error: /^batch of 65 images is over the limit of 64 per request$/},
  {name: 'an empty body', body: '', status: 400, error: /^empty body: send a JSON inference request/},
  {name: 'a body that is not an object', body: [1, 2], status: 400, error: /^the body must be a JSON object, got a list$/},
  {name: 'a compressed body', body: 'x', headers: {'Content-Encoding': 'gzip'}, status: 415, error: /^unsupported Content-Encoding "gzip"/},
  {name: 'a body over the limit', body: `{"inputs": [{"data": [${'0.5,'.repeat(300_000)}0]}]}`, status: 413, error: /over the 1mb limit/},
  {name: 'an unknown model', path: '/v2/models/fashion/infer', body: {inputs: [jsonInput(1)]}, status: 404, error: /^Servable not found for request: Latest\(fashion\)$/},
  {name: 'an unknown version', path: '/v2/models/mnist/versions/99/infer', body: {inputs: [jsonInput(1)]}, status: 404, error: /^Servable not found for request: Specific\(mnist, 99\)/},
  {name: 'a version that is not a number', path: '/v2/models/mnist/versions/latest/infer', body: {inputs: [jsonInput(1)]}, status: 404, error: /^Servable not found for request: Specific\(mnist, latest\); versions are whole numbers$/},
  {name: 'metadata of an unknown model', method: 'GET', path: '/v2/models/fashion', status: 404, error: /Latest\(fashion\)/},
  {name: 'readiness of an unknown version', method: 'GET', path: '/v2/models/mnist/versions/99/ready', status: 404, error: /^Could not find version 99 of model mnist$/},
  {name: 'GET on infer', method: 'GET', path: '/v2/models/mnist/infer', status: 405, error: /^Method GET is not allowed on \/v2\/models\/mnist\/infer \(use POST\)$/},
  {name: 'POST on model metadata', path: '/v2/models/mnist', body: {}, status: 405, error: /^Method POST is not allowed on \/v2\/models\/mnist \(use GET\)$/},
  {name: 'an unknown V2 path', method: 'GET', path: '/v2/repository/index', status: 404, error: /^Malformed request: GET \/v2\/repository\/index$/},
]

async function sendBad({method = 'POST', path = '/v2/models/mnist/infer', body, headers}: BadRequest): Promise<V2Answer> {
  return v2(method, path, body, headers)
}

describe('V2 REST: every malformed request gets its status and a one-line error, and disturbs nothing', () => {
  it.each(BAD_REQUESTS)('$name → $status', async (bad) => {
    const answer = await sendBad(bad)
    expect(answer.status).toBe(bad.status)
    expect(answer.headers.get('content-type')).toBe('application/json')
    expect(Object.keys(answer.json)).toEqual(['error'])
    expect(answer.json.error).toMatch(bad.error)
    expect(answer.json.error).not.toContain('\n')
    if (bad.status === 405) expect(answer.headers.get('allow')).toMatch(/^(GET, HEAD|POST)$/)
  })

  it('all of them at once, beside good JSON and binary requests: the good ones get their answers, nothing leaks', async () => {
    const tensorsBefore = await metric('mnist_serving_num_tensors')
    const good = () =>
      Promise.all([
        v2('POST', '/v2/models/mnist/infer', {inputs: [jsonInput(8)], outputs: [{name: 'y_output'}]}),
        (() => {
          const {body, headers} = binaryRequest(binaryHeader(8 * PIXELS * 4, [8, PIXELS]), bytesOf(images(8)))
          return v2('POST', '/v2/models/mnist/infer', body, headers)
        })(),
      ])
    const [goods, bads] = await Promise.all([Promise.all([good(), good(), good()]), Promise.all(BAD_REQUESTS.map(sendBad))])
    bads.forEach((answer, i) => expect(answer.status).toBe(BAD_REQUESTS[i].status))
    for (const [jsonAnswer, binaryAnswer] of goods) {
      expect(jsonAnswer.status).toBe(200)
      expectLogits(output(jsonAnswer, 'y_output').data as number[], expected, 8)
      expect(binaryAnswer.status).toBe(200)
      expectLogits(output(binaryAnswer, 'y_output').data as number[], expected, 8)
    }
    expect(await metric('mnist_serving_num_tensors')).toBe(tensorsBefore)
    expect(logged.filter((line) => /error/i.test(line))).toEqual([])
  })
})

describe('V2 REST: not ready, draining, overloaded', () => {
  async function withListener(core: ServingCore, run: (url: string) => Promise<void>): Promise<void> {
    const listener = createRestListener({core, modelName: 'mnist', metrics: new ServingMetrics(), bodyLimitBytes: 1 << 20, bodyLimitText: '1mb', log})
    const http = createServer(listener).listen(0, '127.0.0.1')
    await once(http, 'listening')
    try {
      await run(`http://127.0.0.1:${(http.address() as AddressInfo).port}`)
    } finally {
      http.close()
    }
  }

  const loading: ServingCore = {
    predict: async () => {
      throw new ServingError('UNAVAILABLE', 'no version of model mnist is loaded yet', 1)
    },
    metadata: () => {
      throw new ServingError('UNAVAILABLE', 'no version of model mnist is loaded yet', 1)
    },
    status: () => [{version: 1, state: 'LOADING', errorMessage: ''}],
    versionLabels: () => ({}),
    isReady: () => false,
  }

  it('while loading: live 200, ready and model ready 503 with the reason, metadata and infer 503 with Retry-After', async () => {
    await withListener(loading, async (url) => {
      const get = async (path: string) => {
        const response = await fetch(`${url}${path}`)
        return {status: response.status, json: await response.json(), retryAfter: response.headers.get('retry-after')}
      }
      expect(await get('/v2/health/live')).toMatchObject({status: 200, json: {live: true}})
      expect(await get('/v2/health/ready')).toMatchObject({status: 503, json: {ready: false, error: 'no version of mnist is available'}})
      expect(await get('/v2/models/mnist/ready')).toMatchObject({status: 503, json: {name: 'mnist', ready: false, error: 'mnist is not available'}})
      expect(await get('/v2/models/mnist')).toEqual({status: 503, json: {error: 'no version of model mnist is loaded yet'}, retryAfter: '1'})
      const infer = await fetch(`${url}/v2/models/mnist/infer`, {method: 'POST', body: JSON.stringify({inputs: [jsonInput(1)]})})
      expect(infer.status).toBe(503)
      expect(infer.headers.get('retry-after')).toBe('1')
      expect(await infer.json()).toEqual({error: 'no version of model mnist is loaded yet'})
    })
  })

  it('while draining: ready 503 ("shutting down"), live still 200', async () => {
    // The served core once a graceful shutdown has begun: versions AVAILABLE, not ready.
    const draining: ServingCore = {
      predict: (request) => server.core.predict(request),
      metadata: (name, version) => server.core.metadata(name, version),
      status: (name, version) => server.core.status(name, version),
      versionLabels: (name) => server.core.versionLabels(name),
      isReady: () => false,
    }
    await withListener(draining, async (url) => {
      const ready = await fetch(`${url}/v2/health/ready`)
      expect(ready.status).toBe(503)
      expect(await ready.json()).toEqual({ready: false, error: 'shutting down'})
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(200)
    })
  })
})

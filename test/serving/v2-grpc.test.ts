import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runLoadClient} from '../../src/lib/client/load-client.js'
import {grpcFrontend} from '../../src/lib/serving/grpc/frontend.js'
import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingLog} from '../../src/lib/serving/api.js'
import {REPO_ROOT, makeTempDir} from '../helpers/cli.js'
import {mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'
import {PIXELS, argmaxRows, bytesOf, expectLogits, floatsOf} from './v2-fixtures.js'

/**
 * The Open Inference Protocol's gRPC service over the real serve stack, called by a client built
 * here from the protocol's own .proto file (proto/open_inference/open_inference_grpc.proto, as
 * copied from kserve/open-inference-protocol) with @grpc/proto-loader — none of the server's code.
 */

const SEED = 7
const VERSION = 3
const MAX_BATCH = 64

const logged: string[] = []
const log: ServingLog = {info: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m)}
const temp = makeTempDir('mnist-rnn-v2-grpc-')
let server: RunningServer
let client: grpc.Client
const mnist = mnistTestImages(MAX_BATCH)
/** What `eval` computes for these images: the classifier's logits, in this process. */
const expected = referenceLogits(SEED, mnist.images)

// A plain proto-loader client of the protocol's own file; int64 as strings, as protobuf's JSON mapping writes them.
const definition = protoLoader.loadSync(join(REPO_ROOT, 'proto', 'open_inference', 'open_inference_grpc.proto'), {keepCase: true, longs: String, defaults: true, oneofs: true})
const {GRPCInferenceService} = (grpc.loadPackageDefinition(definition) as unknown as {inference: {GRPCInferenceService: grpc.ServiceClientConstructor}}).inference

interface OutputTensor {
  name: string
  datatype: string
  shape: string[]
  contents: {fp32_contents: number[]; bytes_contents: Buffer[]} | null
}

interface InferResponse {
  model_name: string
  model_version: string
  id: string
  outputs: OutputTensor[]
  raw_output_contents: Buffer[]
}

function call<Response>(method: string, request: object): Promise<Response> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (r: object, cb: (e: grpc.ServiceError | null, a: Response) => void) => void>)[method](request, (error, answer) =>
      error ? reject(error) : resolve(answer),
    ),
  )
}

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise
  } catch (error) {
    return error as grpc.ServiceError
  }
  throw new Error('the call succeeded')
}

function images(count: number): Float32Array {
  return mnist.images.slice(0, count * PIXELS)
}





function fp32Input(count: number, values = Array.from(images(count)), shape = [count, 28, 28]) {
  return {name: 'x_input', datatype: 'FP32', shape, contents: {fp32_contents: values}}
}

function rawRequest(count: number, extra: object = {}) {
  return {model_name: 'mnist', inputs: [{name: 'x_input', datatype: 'FP32', shape: [count, PIXELS]}], raw_input_contents: [bytesOf(images(count))], ...extra}
}

beforeAll(async () => {
  await writeTestExport(temp.dir, VERSION, SEED)
  server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, maxBatchSize: MAX_BATCH, backend: 'wasm'}, log, [grpcFrontend({host: '127.0.0.1', port: 0})])
  client = new GRPCInferenceService(server.frontends[0].address, grpc.credentials.createInsecure())
})

afterAll(async () => {
  client?.close()
  await server?.shutdown()
  temp.cleanup()
})

describe('V2 gRPC: health and metadata', () => {
  it('ServerLive, ServerReady and ModelReady answer true; ServerMetadata names the extensions', async () => {
    expect(await call('ServerLive', {})).toEqual({live: true})
    expect(await call('ServerReady', {})).toEqual({ready: true})
    expect(await call('ModelReady', {name: 'mnist'})).toEqual({ready: true})
    expect(await call('ModelReady', {name: 'mnist', version: String(VERSION)})).toEqual({ready: true})
    expect(await call('ServerMetadata', {})).toEqual({name: 'mnist-rnn', version: expect.stringMatching(/^\d+\.\d+\.\d+/), extensions: ['binary_tensor_data', 'classification']})
  })

  it('ModelMetadata lists the input and both outputs, int64 shapes with -1 for the batch', async () => {
    expect(await call('ModelMetadata', {name: 'mnist', version: String(VERSION)})).toEqual({
      name: 'mnist',
      versions: [String(VERSION)],
      platform: server.engine.engine === 'onnxruntime' ? 'onnxruntime_onnx' : 'tensorflowjs_layers',
      inputs: [{name: 'x_input', datatype: 'FP32', shape: ['-1', '28', '28']}],
      outputs: [
        {name: 'y_output', datatype: 'FP32', shape: ['-1', '10']},
        {name: 'probabilities', datatype: 'FP32', shape: ['-1', '10']},
      ],
      properties: {},
    })
  })

  it('NOT_FOUND for an unknown model or version, in health and metadata calls alike', async () => {
    expect((await failure(call('ModelReady', {name: 'fashion'}))).code).toBe(grpc.status.NOT_FOUND)
    expect((await failure(call('ModelReady', {name: 'mnist', version: '99'}))).details).toBe('Could not find version 99 of model mnist')
    expect((await failure(call('ModelMetadata', {name: 'fashion'}))).details).toBe('Servable not found for request: Latest(fashion)')
  })
})

describe('V2 gRPC: ModelInfer gets what eval computes', () => {
  it.each([1, 64])('contents.fp32_contents in, contents out, batch of %i', async (count) => {
    const answer = await call<InferResponse>('ModelInfer', {model_name: 'mnist', id: `fp32-${count}`, inputs: [fp32Input(count)], outputs: [{name: 'y_output'}]})
    expect(answer).toMatchObject({model_name: 'mnist', model_version: String(VERSION), id: `fp32-${count}`, raw_output_contents: []})
    expect(answer.outputs).toHaveLength(1)
    expect(answer.outputs[0]).toMatchObject({name: 'y_output', datatype: 'FP32', shape: [String(count), '10']})
    expectLogits(answer.outputs[0].contents!.fp32_contents, expected, count)
  })

  it.each([1, 64])('raw_input_contents in, raw_output_contents out, batch of %i', async (count) => {
    const answer = await call<InferResponse>('ModelInfer', rawRequest(count, {model_version: String(VERSION), outputs: [{name: 'y_output'}]}))
    expect(answer.outputs).toEqual([{name: 'y_output', datatype: 'FP32', shape: [String(count), '10'], parameters: {}, contents: null}])
    expect(answer.raw_output_contents).toHaveLength(1)
    expectLogits(floatsOf(answer.raw_output_contents[0]), expected, count)
  })

  it('binary_data_output (bool_param) chooses raw outputs or contents whatever the inputs were', async () => {
    const contents = await call<InferResponse>('ModelInfer', rawRequest(2, {parameters: {binary_data_output: {bool_param: false}}, outputs: [{name: 'y_output'}]}))
    expect(contents.raw_output_contents).toEqual([])
    expectLogits(contents.outputs[0].contents!.fp32_contents, expected, 2)
    const raw = await call<InferResponse>('ModelInfer', {model_name: 'mnist', inputs: [fp32Input(2)], parameters: {binary_data_output: {bool_param: true}}, outputs: [{name: 'y_output'}]})
    expectLogits(floatsOf(raw.raw_output_contents[0]), expected, 2)
  })

  it('no outputs named: logits and probabilities; classification (int64_param) gives top-k BYTES', async () => {
    const all = await call<InferResponse>('ModelInfer', {model_name: 'mnist', inputs: [fp32Input(3)]})
    expect(all.outputs.map((o) => o.name)).toEqual(['y_output', 'probabilities'])
    const probabilities = all.outputs[1].contents!.fp32_contents
    for (let i = 0; i < 3; i++) expect(probabilities.slice(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)

    const top = await call<InferResponse>('ModelInfer', {model_name: 'mnist', inputs: [fp32Input(4)], outputs: [{name: 'y_output', parameters: {classification: {int64_param: 2}}}]})
    expect(top.outputs[0]).toMatchObject({datatype: 'BYTES', shape: ['4', '2']})
    const classes = top.outputs[0].contents!.bytes_contents.map((bytes) => bytes.toString('utf8'))
    expect(classes.filter((_, i) => i % 2 === 0).map((text) => Number(text.split(':')[1]))).toEqual(argmaxRows(expected, 4))
    classes.forEach((text) => expect(text).toMatch(/^-?\d+\.\d{6}:\d$/))

    const rawTop = await call<InferResponse>('ModelInfer', rawRequest(1, {outputs: [{name: 'probabilities', parameters: {classification: {int64_param: 1}}}]}))
    const bytes = rawTop.raw_output_contents[0]
    const length = bytes.readUInt32LE(0)
    expect(bytes.length).toBe(4 + length)
    expect(Number(bytes.subarray(4).toString('utf8').split(':')[1])).toBe(argmaxRows(expected, 1)[0])
  })

  it('mnist-rnn client --api v2-grpc gets every answer and eval\'s predictions', async () => {
    const report = await runLoadClient({url: `grpc://${server.frontends[0].address}`, api: 'v2-grpc', numTests: 16, concurrency: 4, timeoutMs: 30_000})
    const wanted = argmaxRows(referenceLogits(SEED, mnistTestImages(16).images), 16)
    const labels = mnistTestImages(16).labels
    expect(report).toMatchObject({answered: 16, errors: 0, correct: wanted.filter((digit, i) => digit === labels[i]).length})
    expect(report.endpoint).toBe(`grpc://${server.frontends[0].address} inference.GRPCInferenceService/ModelInfer`)
  })

  it('counts ModelInfer calls in /metrics under their own route', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    expect(text).toMatch(/^mnist_serving_requests_total\{route="v2_grpc_model_infer",status="200"\} \d+$/m)
    expect(text).toMatch(/^mnist_serving_requests_total\{route="v2_grpc_server_live",status="200"\} 1$/m)
  })
})

const zeros = (count: number) => Array.from({length: count}, () => 0)

/** Every class of malformed ModelInfer request, its status code, and its one-line details. */
const BAD_CALLS: Array<{name: string; request: object; code: grpc.status; details: RegExp}> = [
  {name: 'wrong datatype', request: {model_name: 'mnist', inputs: [{...fp32Input(1), datatype: 'FP64'}]}, code: grpc.status.INVALID_ARGUMENT, details: /^input x_input has datatype FP64; the model takes FP32$/},
  {name: 'wrong shape', request: {model_name: 'mnist', inputs: [fp32Input(1, zeros(784), [1, 784, 1])]}, code: grpc.status.INVALID_ARGUMENT, details: /^input x_input has shape \[1,784,1\]; expected \[N,28,28\] or \[N,784\]$/},
  {name: 'a negative shape', request: {model_name: 'mnist', inputs: [fp32Input(1, zeros(784), [-1, 784])]}, code: grpc.status.INVALID_ARGUMENT, details: /^input x_input has an invalid shape \[-1,784\]: sizes must be whole numbers ≥ 0$/},
  {name: 'shape/data mismatch', request: {model_name: 'mnist', inputs: [fp32Input(1, zeros(700))]}, code: grpc.status.INVALID_ARGUMENT, details: /^input x_input has 700 fp32_contents values for shape \[1,28,28\] \(784 expected\)$/},
  {name: 'raw bytes that do not fit the shape', request: {...rawRequest(1), raw_input_contents: [Buffer.alloc(100)]}, code: grpc.status.INVALID_ARGUMENT, details: /^input x_input has raw_input_contents of 100 bytes for FP32 shape \[1,784\] \(3136 expected\)$/},
  {name: 'raw and contents both', request: {...rawRequest(1), inputs: [fp32Input(1, zeros(784), [1, 784])]}, code: grpc.status.INVALID_ARGUMENT, details: /^input x_input has both contents and raw_input_contents; send one$/},
  {name: 'more raw tensors than inputs', request: {...rawRequest(1), raw_input_contents: [bytesOf(images(1)), bytesOf(images(1))]}, code: grpc.status.INVALID_ARGUMENT, details: /^raw_input_contents holds 2 tensors for 1 inputs$/},
  {name: 'NaN', request: {model_name: 'mnist', inputs: [fp32Input(1, [Number.NaN, ...zeros(783)])]}, code: grpc.status.INVALID_ARGUMENT, details: /^image 0, pixel 0 is NaN; pixels must be finite numbers$/},
  {name: 'Infinity in raw bytes', request: {...rawRequest(1), raw_input_contents: [bytesOf(Float32Array.from([...zeros(783), Infinity]))]}, code: grpc.status.INVALID_ARGUMENT, details: /^image 0, pixel 783 is Infinity/},
  {name: 'an unknown output name', request: {...rawRequest(1), outputs: [{name: 'logits'}]}, code: grpc.status.INVALID_ARGUMENT, details: /^unknown output "logits"; the model's outputs are \{y_output, probabilities\}$/},
  {name: 'classification as a string', request: {...rawRequest(1), outputs: [{name: 'y_output', parameters: {classification: {string_param: '3'}}}]}, code: grpc.status.INVALID_ARGUMENT, details: /^output y_output: classification must be an int64_param, got string_param$/},
  {name: 'binary_data_output as an int', request: {...rawRequest(1), parameters: {binary_data_output: {int64_param: 1}}}, code: grpc.status.INVALID_ARGUMENT, details: /^parameter binary_data_output must be a bool_param, got int64_param$/},
  {name: 'an unknown input name', request: {model_name: 'mnist', inputs: [{...fp32Input(1), name: 'images'}]}, code: grpc.status.INVALID_ARGUMENT, details: /^unknown input "images"; the model's input is x_input$/},
  {name: 'no inputs', request: {model_name: 'mnist'}, code: grpc.status.INVALID_ARGUMENT, details: /^the request has no inputs/},
  {name: 'an empty batch', request: {model_name: 'mnist', inputs: [fp32Input(0, [], [0, 784])]}, code: grpc.status.INVALID_ARGUMENT, details: /^input x_input is an empty batch/},
  {name: 'a batch over the limit', request: {model_name: 'mnist', inputs: [fp32Input(65, zeros(65 * 784), [65, 784])]}, code: grpc.status.INVALID_ARGUMENT, details: /^batch of 65 images is over the limit of 64 per request$/},
  {name: 'no model name', request: {inputs: [fp32Input(1)]}, code: grpc.status.INVALID_ARGUMENT, details: /^model_name is empty$/},
  {name: 'an unknown model', request: {...rawRequest(1), model_name: 'fashion'}, code: grpc.status.NOT_FOUND, details: /^Servable not found for request: Latest\(fashion\)$/},
  {name: 'an unknown version', request: {...rawRequest(1), model_version: '99'}, code: grpc.status.NOT_FOUND, details: /^Servable not found for request: Specific\(mnist, 99\)/},
]

describe('V2 gRPC: every malformed ModelInfer gets its status code and one line, and disturbs nothing', () => {
  it.each(BAD_CALLS)('$name → $code', async ({request, code, details}) => {
    const error = await failure(call('ModelInfer', request))
    expect(error.code).toBe(code)
    expect(error.details).toMatch(details)
    expect(error.details).not.toContain('\n')
  })

  it('all of them at once beside good calls: the good ones get their answers', async () => {
    const good = () => call<InferResponse>('ModelInfer', rawRequest(8, {outputs: [{name: 'y_output'}]}))
    const [goods, bads] = await Promise.all([Promise.all([good(), good(), good()]), Promise.all(BAD_CALLS.map(({request}) => failure(call('ModelInfer', request))))])
    bads.forEach((error, i) => expect(error.code).toBe(BAD_CALLS[i].code))
    for (const answer of goods) expectLogits(floatsOf(answer.raw_output_contents[0]), expected, 8)
    expect(logged.filter((line) => /error/i.test(line))).toEqual([])
  })
})

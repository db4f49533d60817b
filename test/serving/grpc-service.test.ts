import * as grpc from '@grpc/grpc-js'
import * as tf from '@tensorflow/tfjs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {loadMnistSplit} from '../../src/lib/data/mnist.js'
import {GrpcServingClient} from '../../src/lib/client/grpc-client.js'
import {loadServingProtos} from '../../src/lib/serving/grpc/protos.js'
import {GrpcServer, startGrpcServer} from '../../src/lib/serving/grpc/service.js'
import {floatTensorProto} from '../../src/lib/serving/grpc/tensor.js'
import {TEST_MODEL_NAME, TEST_QUEUE_LIMIT, TEST_SIGNATURE, TEST_VERSION, TestServingCore} from './grpc-test-core.js'

const IMAGE_COUNT = 4
const PIXELS = 784

let core: TestServingCore
let server: GrpcServer
let client: GrpcServingClient
/** A stub built straight from the loaded protos, for requests our client would never send. */
let rawPrediction: grpc.Client
let images: Float32Array

function rawCall(method: string, request: unknown, deadlineMs?: number): Promise<unknown> {
  const options = deadlineMs === undefined ? {} : {deadline: Date.now() + deadlineMs}
  return new Promise((resolve, reject) => {
    const invoke = (rawPrediction as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>)[method].bind(rawPrediction)
    invoke(request, new grpc.Metadata(), options, (error: grpc.ServiceError | null, response: unknown) => (error ? reject(error) : resolve(response)))
  })
}

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call
  } catch (error) {
    return error as grpc.ServiceError
  }
  throw new Error('expected the call to fail')
}

function predictRequest(tensor: object, spec: object = {name: TEST_MODEL_NAME}, alias = 'x_input') {
  return {model_spec: spec, inputs: {[alias]: tensor}}
}

beforeAll(async () => {
  await selectBackend('auto')
  images = loadMnistSplit('test', undefined, IMAGE_COUNT).images
  core = new TestServingCore()
  server = await startGrpcServer(core, {host: '127.0.0.1', port: 0})
  client = new GrpcServingClient(server.address)
  rawPrediction = new (loadServingProtos().PredictionService)(server.address, grpc.credentials.createInsecure())
})

afterAll(async () => {
  client?.close()
  rawPrediction?.close()
  await server?.shutdown()
  core?.dispose()
})

describe('gRPC PredictionService/Predict', () => {
  it('answers float_val [N,28,28] with the logits the core computes, and names the version that answered', async () => {
    const direct = await core.predict({modelName: TEST_MODEL_NAME, images, count: IMAGE_COUNT})
    const answer = await client.predict(images, IMAGE_COUNT, {encoding: 'float_val'})
    expect(answer.modelName).toBe(TEST_MODEL_NAME)
    expect(answer.version).toBe(TEST_VERSION)
    expect(answer.logits).toHaveLength(IMAGE_COUNT * 10)
    expect(Array.from(answer.logits)).toEqual(Array.from(direct.logits))
  })

  it('gives the same logits for tensor_content and for [N,784], and for a pinned version', async () => {
    const viaFloats = await client.predict(images, IMAGE_COUNT)
    const viaBytes = await client.predict(images, IMAGE_COUNT, {encoding: 'tensor_content'})
    const flat = await client.predict(images, IMAGE_COUNT, {encoding: 'tensor_content', flat: true, version: TEST_VERSION})
    expect(Array.from(viaBytes.logits)).toEqual(Array.from(viaFloats.logits))
    expect(Array.from(flat.logits)).toEqual(Array.from(viaFloats.logits))
    expect(flat.version).toBe(TEST_VERSION)
  })

  it('answers y_output as DT_FLOAT [N,10] in float_val, with model_spec name, version and signature', async () => {
    const response = (await rawCall('Predict', predictRequest(floatTensorProto(images.subarray(0, PIXELS), [1, 28, 28], 'tensor_content')))) as {
      model_spec: {name: string; version: {value: number}; signature_name: string}
      outputs: Record<string, {dtype: string; tensor_shape: {dim: {size: number}[]}; float_val: number[]}>
    }
    expect(Object.keys(response.outputs)).toEqual(['y_output'])
    const output = response.outputs.y_output
    expect(output.dtype).toBe('DT_FLOAT')
    expect(output.tensor_shape.dim.map((dim) => dim.size)).toEqual([1, 10])
    expect(output.float_val).toHaveLength(10)
    expect(response.model_spec).toMatchObject({name: TEST_MODEL_NAME, version: {value: TEST_VERSION}, signature_name: TEST_SIGNATURE})
  })

  it('honours output_filter naming y_output and refuses an unknown output alias', async () => {
    const tensor = floatTensorProto(images.subarray(0, PIXELS), [1, 784])
    const filtered = (await rawCall('Predict', {...predictRequest(tensor), output_filter: ['y_output']})) as {outputs: object}
    expect(Object.keys(filtered.outputs)).toEqual(['y_output'])
    const error = await failure(rawCall('Predict', {...predictRequest(tensor), output_filter: ['probabilities']}))
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(error.details).toBe('output tensor alias not found in signature: probabilities. Outputs expected to be in the set {y_output}.')
  })

  it('keeps tf.memory().numTensors flat across requests', async () => {
    await client.predict(images, 1)
    const before = tf.memory().numTensors
    await Promise.all(Array.from({length: 20}, (_, i) => client.predict(images.subarray(i % IMAGE_COUNT * PIXELS), 1)))
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe('gRPC metadata and status', () => {
  it('GetModelMetadata returns the signature def packed as a SignatureDefMap', async () => {
    const metadata = await client.metadata()
    expect(metadata.modelName).toBe(TEST_MODEL_NAME)
    expect(metadata.version).toBe(TEST_VERSION)
    expect(metadata.signatures).toEqual({
      serving_default: {
        methodName: 'tensorflow/serving/predict',
        inputs: {x_input: {name: 'x_input', dtype: 'DT_FLOAT', shape: [-1, 28, 28]}},
        outputs: {y_output: {name: 'y_output', dtype: 'DT_FLOAT', shape: [-1, 10]}},
      },
    })
    const raw = (await rawCall('GetModelMetadata', {model_spec: {name: TEST_MODEL_NAME}, metadata_field: ['signature_def']})) as {
      metadata: {signature_def: {'@type': string}}
    }
    expect(raw.metadata.signature_def['@type']).toBe('type.googleapis.com/tensorflow.serving.SignatureDefMap')
  })

  it('GetModelMetadata requires a supported metadata_field, as TF Serving does', async () => {
    const none = await failure(rawCall('GetModelMetadata', {model_spec: {name: TEST_MODEL_NAME}, metadata_field: []}))
    expect(none.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(none.details).toBe('GetModelMetadataRequest must specify at least one metadata_field')
    const other = await failure(rawCall('GetModelMetadata', {model_spec: {name: TEST_MODEL_NAME}, metadata_field: ['graph']}))
    expect(other.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(other.details).toBe('Metadata field graph is not supported')
  })

  it('ModelService/GetModelStatus reports each version, all of them or a pinned one', async () => {
    expect(await client.status()).toEqual([{version: TEST_VERSION, state: 'AVAILABLE', errorMessage: ''}])
    expect(await client.status({version: TEST_VERSION})).toEqual([{version: TEST_VERSION, state: 'AVAILABLE', errorMessage: ''}])
    const missing = await failure(client.status({version: 99}))
    expect(missing.code).toBe(grpc.status.NOT_FOUND)
  })
})

describe('gRPC errors, with TF Serving status codes and a message that says what was wrong', () => {
  const oneImage = () => floatTensorProto(images.subarray(0, PIXELS), [1, 28, 28])

  it('INVALID_ARGUMENT: no model_spec, a missing or unknown input alias', async () => {
    const noSpec = await failure(rawCall('Predict', {inputs: {x_input: oneImage()}}))
    expect(noSpec.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(noSpec.details).toBe('Missing ModelSpec')
    const noInput = await failure(rawCall('Predict', {model_spec: {name: TEST_MODEL_NAME}, inputs: {}}))
    expect(noInput.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(noInput.details).toBe('inputs do not match signature serving_default: sent {}, expected {x_input}; missing {x_input}')
    const wrongAlias = await failure(rawCall('Predict', predictRequest(oneImage(), {name: TEST_MODEL_NAME}, 'images')))
    expect(wrongAlias.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(wrongAlias.details).toMatch(/missing \{x_input\}; unknown \{images\}$/)
  })

  it('INVALID_ARGUMENT: a wrong dtype, shape or value count', async () => {
    const cases: Array<[object, RegExp]> = [
      [{...oneImage(), dtype: 'DT_DOUBLE'}, /^input x_input must be DT_FLOAT, got DT_DOUBLE$/],
      [floatTensorProto(images.subarray(0, PIXELS), [1, 784, 1]), /^input x_input has shape \[1,784,1\]; expected \[N,28,28\] or \[N,784\]$/],
      [floatTensorProto(images.subarray(0, PIXELS), [2, 784]), /^input x_input has 784 float_val values for shape \[2,784\] \(1568 expected\)$/],
    ]
    for (const [tensor, message] of cases) {
      const error = await failure(rawCall('Predict', predictRequest(tensor)))
      expect(error.code, String(message)).toBe(grpc.status.INVALID_ARGUMENT)
      expect(error.details).toMatch(message)
    }
  })

  it('NOT_FOUND: an unknown model, version or signature', async () => {
    const model = await failure(client.predict(images, 1, {modelName: 'fashion'}))
    expect(model.code).toBe(grpc.status.NOT_FOUND)
    expect(model.details).toMatch(/fashion/)
    const version = await failure(client.predict(images, 1, {version: 7}))
    expect(version.code).toBe(grpc.status.NOT_FOUND)
    expect(version.details).toMatch(/Specific\(mnist, 7\)/)
    const signature = await failure(client.predict(images, 1, {signatureName: 'classify'}))
    expect(signature.code).toBe(grpc.status.NOT_FOUND)
    expect(signature.details).toBe('Serving signature name: "classify" not found in signature def; model mnist has {serving_default}')
    const metadata = await failure(client.metadata({modelName: 'fashion'}))
    expect(metadata.code).toBe(grpc.status.NOT_FOUND)
  })

  it('UNAVAILABLE when the queue is full; the queued calls still get their answers', async () => {
    core.hold()
    const queued = Array.from({length: TEST_QUEUE_LIMIT}, (_, i) => client.predict(images.subarray(i * PIXELS), 1))
    await waitFor(() => core.queued === TEST_QUEUE_LIMIT)
    const full = await failure(client.predict(images, 1))
    expect(full.code).toBe(grpc.status.UNAVAILABLE)
    expect(full.details).toBe('the request queue is full; retry later')
    expect(full.metadata.get('grpc-retry-pushback-ms')).toEqual(['1000'])
    core.release()
    const answers = await Promise.all(queued)
    expect(answers.map((answer) => answer.logits.length)).toEqual([10, 10])
  })
})

describe('gRPC call reporting', () => {
  it('reports each answered call with its method and status code, and a core failure as INTERNAL without a stack', async () => {
    const calls: string[] = []
    const internalErrors: string[] = []
    const failingCore = new TestServingCore()
    failingCore.metadata = () => {
      throw new TypeError('model manager exploded')
    }
    const ownServer = await startGrpcServer(failingCore, {
      host: '127.0.0.1',
      port: 0,
      onCall: (method, code, seconds) => calls.push(`${method} ${grpc.status[code]} ${seconds >= 0}`),
      onInternalError: (method, error) => internalErrors.push(`${method}: ${(error as Error).message}`),
    })
    const ownClient = new GrpcServingClient(ownServer.address)
    try {
      expect(await ownClient.status()).toHaveLength(1)
      const broken = await failure(ownClient.metadata())
      expect(broken.code).toBe(grpc.status.INTERNAL)
      expect(broken.details).toBe('model manager exploded')
      const invalid = await failure(ownClient.predict(images, 1, {modelName: ''}))
      expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT)
      expect(calls).toEqual(['GetModelStatus OK true', 'GetModelMetadata INTERNAL true', 'Predict INVALID_ARGUMENT true'])
      expect(internalErrors).toEqual(['GetModelMetadata: model manager exploded'])
    } finally {
      ownClient.close()
      await ownServer.shutdown()
      failingCore.dispose()
    }
  })
})

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

describe('gRPC deadlines, cancellation and shutdown', () => {
  it('a call whose deadline passes gets DEADLINE_EXCEEDED; the server keeps serving and leaks nothing', async () => {
    await client.predict(images, 1)
    const tensorsBefore = tf.memory().numTensors
    const predictedBefore = core.imagesPredicted
    core.hold()
    const late = await failure(client.predict(images, 1, {deadlineMs: 100}))
    expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED)
    core.release()
    await waitFor(() => core.imagesPredicted === predictedBefore + 1)
    const after = await client.predict(images, 1, {deadlineMs: 30_000})
    expect(after.logits).toHaveLength(10)
    expect(tf.memory().numTensors).toBe(tensorsBefore)
  })

  it('a call the client cancels mid-flight is CANCELLED for the client and harmless for the server', async () => {
    const predictedBefore = core.imagesPredicted
    core.hold()
    const outcome = await new Promise<grpc.ServiceError | null>((resolve) => {
      const predict = (rawPrediction as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>).Predict.bind(rawPrediction)
      const call: grpc.ClientUnaryCall = predict(predictRequest(oneImageProto()), resolve)
      void waitFor(() => core.queued === 1).then(() => call.cancel())
    })
    expect(outcome?.code).toBe(grpc.status.CANCELLED)
    core.release()
    // The abandoned prediction still runs to the end on the server, whose answer goes nowhere.
    await waitFor(() => core.imagesPredicted === predictedBefore + 1)
    expect((await client.predict(images, 1)).version).toBe(TEST_VERSION)
  })

  it('shutdown lets an in-flight call finish, then refuses new ones with UNAVAILABLE', async () => {
    const ownCore = new TestServingCore()
    const ownServer = await startGrpcServer(ownCore, {host: '127.0.0.1', port: 0})
    const ownClient = new GrpcServingClient(ownServer.address)
    try {
      await ownClient.predict(images, 1)
      ownCore.hold()
      const inFlight = ownClient.predict(images, 2)
      await waitFor(() => ownCore.queued === 1)
      const stopped = ownServer.shutdown()
      ownCore.release()
      expect((await inFlight).logits).toHaveLength(20)
      await stopped
      const refused = await failure(ownClient.predict(images, 1, {deadlineMs: 5_000}))
      expect(refused.code).toBe(grpc.status.UNAVAILABLE)
    } finally {
      ownClient.close()
      ownCore.dispose()
    }
  })
})

function oneImageProto() {
  return floatTensorProto(images.subarray(0, PIXELS), [1, 28, 28])
}

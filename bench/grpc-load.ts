import * as grpc from '@grpc/grpc-js'

import {errorMessage} from '../src/lib/core/errors.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS} from '../src/lib/core/image.js'
import {summarizeLatencies} from '../src/lib/client/latency.js'
import {v2GrpcInferRequest} from '../src/lib/client/v2-client.js'
import {loadServingProtos} from '../src/lib/serving/grpc/protos.js'
import {TensorEncoding, floatTensorProto} from '../src/lib/serving/grpc/tensor.js'
import {loadV2Service} from '../src/lib/serving/grpc/v2-protos.js'
import {DEFAULT_MODEL_NAME} from '../src/lib/serving/options.js'

export interface GrpcLoadOptions {
  /** Calls in flight at once. */
  concurrency: number
  durationMs: number
  /** Test images, [count, 784] row-major; call i sends image i mod count. */
  images: Float32Array
  imageCount: number
  encoding?: TensorEncoding
  modelName?: string
}

export interface LoadFigures {
  concurrency: number
  requests: number
  errors: number
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** The first error's message, if any. */
  firstError?: string
}

const passBytes = (bytes: Buffer) => bytes

function imageOf(options: GrpcLoadOptions, i: number): Float32Array {
  return options.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS)
}

/**
 * Drives one unary method with pre-encoded request bodies at `concurrency` for `durationMs` over
 * one channel and reports throughput and latency. Like autocannon for REST, the bodies are
 * encoded once up front and answers are not decoded, so the figures measure the server, not
 * this client.
 */
async function runUnaryLoad(address: string, path: string, bodies: Buffer[], options: GrpcLoadOptions): Promise<LoadFigures> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure())
  const call = (body: Buffer) =>
    new Promise<void>((resolve, reject) => client.makeUnaryRequest(path, passBytes, passBytes, body, (error) => (error ? reject(error) : resolve())))
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  let next = 0
  const started = performance.now()
  const deadline = started + options.durationMs
  const lane = async () => {
    while (performance.now() < deadline) {
      const sent = performance.now()
      try {
        await call(bodies[next++ % bodies.length])
        latencies.push(performance.now() - sent)
      } catch (error) {
        errors++
        firstError ??= errorMessage(error)
      }
    }
  }
  await Promise.all(Array.from({length: options.concurrency}, lane))
  const elapsedSeconds = (performance.now() - started) / 1000
  client.close()
  const latency = summarizeLatencies(latencies)
  return {
    concurrency: options.concurrency,
    requests: latencies.length + errors,
    errors,
    requestsPerSecond: latencies.length / elapsedSeconds,
    p50Ms: latency.p50,
    p99Ms: latency.p99,
    ...(firstError ? {firstError} : {}),
  }
}

/** Single-image TF Serving Predict calls (tensor_content by default). */
export function runGrpcLoad(address: string, options: GrpcLoadOptions): Promise<LoadFigures> {
  const predict = loadServingProtos().PredictionService.service.Predict
  const bodies = Array.from({length: options.imageCount}, (_, i) =>
    predict.requestSerialize({
      model_spec: {name: options.modelName ?? DEFAULT_MODEL_NAME},
      inputs: {x_input: floatTensorProto(imageOf(options, i), [1, IMAGE_ROWS, IMAGE_COLS], options.encoding)},
    }),
  )
  return runUnaryLoad(address, predict.path, bodies, options)
}

/** Single-image Open Inference Protocol ModelInfer calls with raw_input_contents, as Triton's clients send them. */
export function runV2GrpcLoad(address: string, options: GrpcLoadOptions): Promise<LoadFigures> {
  const infer = loadV2Service().service.ModelInfer
  const bodies = Array.from({length: options.imageCount}, (_, i) => infer.requestSerialize(v2GrpcInferRequest(options.modelName ?? DEFAULT_MODEL_NAME, imageOf(options, i), 1)))
  return runUnaryLoad(address, infer.path, bodies, options)
}

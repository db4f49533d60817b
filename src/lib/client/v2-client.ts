import * as grpc from '@grpc/grpc-js'

import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, NUM_CLASSES} from '../core/image.js'
import {float32FromLittleEndian, littleEndianBytes} from '../core/little-endian.js'
import {INPUT_NAME, OUTPUT_NAME} from '../export/format.js'
import {JsonPoster, RawAnswer} from './http-post.js'
import {InferOutputTensorMessage, ModelInferRequestMessage, ModelInferResponseMessage, loadV2Service} from '../serving/grpc/v2-protos.js'
import {DEFAULT_MODEL_NAME} from '../serving/options.js'
import {PredictResult} from '../serving/api.js'

/**
 * Clients of the Open Inference Protocol (KServe V2), ours or any server's (Triton, KServe,
 * MLServer): REST with JSON tensors, REST with Triton's binary tensor extension, and gRPC
 * `inference.GRPCInferenceService` with raw tensors. Each sends [N, 28, 28] FP32 images as
 * `x_input` and reads back the `y_output` logits.
 */

/** REST tensors as JSON numbers, or as little-endian bytes after a JSON header (both ways). */
export const V2_REST_ENCODINGS = ['json', 'binary'] as const
export type V2RestEncoding = (typeof V2_REST_ENCODINGS)[number]

const FP32 = 'FP32'
const INFERENCE_HEADER_LENGTH = 'inference-header-content-length'

export interface V2Body {
  body: string | Buffer
  headers: Record<string, string>
}

function inputHeader(count: number) {
  return {name: INPUT_NAME, shape: [count, IMAGE_ROWS, IMAGE_COLS], datatype: FP32}
}

/** The body of an inference request for `count` images asking for the logits, in `encoding`. */
export function v2InferBody(images: Float32Array, count: number, encoding: V2RestEncoding): V2Body {
  const pixels = images.subarray(0, count * IMAGE_PIXELS)
  if (encoding === 'json') {
    const request = {inputs: [{...inputHeader(count), data: Array.from(pixels)}], outputs: [{name: OUTPUT_NAME}]}
    return {body: JSON.stringify(request), headers: {'Content-Type': 'application/json'}}
  }
  const request = {
    inputs: [{...inputHeader(count), parameters: {binary_data_size: pixels.byteLength}}],
    outputs: [{name: OUTPUT_NAME, parameters: {binary_data: true}}],
  }
  const header = Buffer.from(JSON.stringify(request), 'utf8')
  return {
    body: Buffer.concat([header, littleEndianBytes(pixels)]),
    headers: {'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length)},
  }
}

interface ResponseOutput {
  name: string
  datatype: string
  shape: number[]
  data?: unknown[]
  parameters?: {binary_data_size?: number}
}

interface InferResponseJson {
  model_name: string
  model_version?: string
  outputs: ResponseOutput[]
}

function checkLogits(values: Float32Array, shape: number[], count: number, name: string): Float32Array {
  if (shape.length !== 2 || shape[0] !== count || shape[1] !== NUM_CLASSES || values.length !== count * NUM_CLASSES) {
    throw new Error(`output ${name} has shape [${shape.join(',')}] and ${values.length} values, expected [${count},${NUM_CLASSES}]`)
  }
  return values
}

/** Logits of `count` images out of a REST inference answer, JSON or binary. */
export function logitsOfV2Answer(answer: RawAnswer, count: number, outputName = OUTPUT_NAME): PredictResult {
  const headerLengthText = answer.headers[INFERENCE_HEADER_LENGTH]
  const headerLength = headerLengthText === undefined ? answer.body.length : Number(headerLengthText)
  let response: InferResponseJson | {error?: string}
  try {
    response = JSON.parse(answer.body.subarray(0, headerLength).toString('utf8'))
  } catch {
    throw new Error(`HTTP ${answer.status}: the answer is not JSON`)
  }
  if (answer.status !== 200 || !('outputs' in response)) {
    throw new Error(`HTTP ${answer.status}: ${(response as {error?: string}).error ?? 'no error message'}`)
  }
  let offset = headerLength
  for (const output of response.outputs) {
    const binarySize = output.parameters?.binary_data_size
    const bytes = binarySize === undefined ? undefined : answer.body.subarray(offset, offset + binarySize)
    offset += binarySize ?? 0
    if (output.name !== outputName) continue
    if (output.datatype !== FP32) throw new Error(`output ${outputName} has datatype ${output.datatype}, expected ${FP32}`)
    const values = bytes ? float32FromLittleEndian(bytes) : Float32Array.from((output.data ?? []).flat(Infinity) as number[])
    return {modelName: response.model_name, version: Number(response.model_version), logits: checkLogits(values, output.shape, count, outputName)}
  }
  throw new Error(`the answer has no output ${outputName}`)
}

export interface V2RestClientOptions {
  modelName?: string
  version?: number
  encoding?: V2RestEncoding
  /** Requests in flight at once (kept-alive connections). */
  connections?: number
  timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 30_000

/** POST /v2/models/NAME[/versions/N]/infer over kept-alive connections. */
export class V2RestClient {
  private readonly poster: JsonPoster
  private readonly encoding: V2RestEncoding
  readonly endpoint: string

  constructor(baseUrl: string, options: V2RestClientOptions = {}) {
    const model = encodeURIComponent(options.modelName ?? DEFAULT_MODEL_NAME)
    const version = options.version === undefined ? '' : `/versions/${options.version}`
    this.endpoint = `${baseUrl.replace(/\/+$/, '')}/v2/models/${model}${version}/infer`
    this.encoding = options.encoding ?? 'json'
    this.poster = new JsonPoster(this.endpoint, options.connections ?? 1, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  }

  /** Logits [count, 10] for `count` images (row-major, 784 values each), and the version that answered. */
  async infer(images: Float32Array, count: number): Promise<PredictResult> {
    const {body, headers} = v2InferBody(images, count, this.encoding)
    return logitsOfV2Answer(await this.poster.send(body, headers), count)
  }

  close(): void {
    this.poster.close()
  }
}

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => void

export interface V2GrpcInferOptions {
  /** raw_input_contents (default, as Triton's clients send) or contents.fp32_contents. */
  raw?: boolean
  deadlineMs?: number
}

/** The ModelInfer request for `count` images asking for the logits. */
export function v2GrpcInferRequest(modelName: string, images: Float32Array, count: number, raw = true): Partial<ModelInferRequestMessage> {
  const pixels = images.subarray(0, count * IMAGE_PIXELS)
  const input = {name: INPUT_NAME, datatype: FP32, shape: [count, IMAGE_ROWS, IMAGE_COLS]}
  return {
    model_name: modelName,
    inputs: [raw ? input : {...input, contents: {fp32_contents: Array.from(pixels)}}],
    outputs: [{name: OUTPUT_NAME}],
    raw_input_contents: raw ? [littleEndianBytes(pixels)] : [],
  }
}

function logitsOfOutput(response: ModelInferResponseMessage, output: InferOutputTensorMessage, index: number, count: number): Float32Array {
  const raw = response.raw_output_contents?.[index]
  const values = raw && raw.length > 0 ? float32FromLittleEndian(raw) : Float32Array.from((output.contents?.fp32_contents ?? []) as number[])
  return checkLogits(values, output.shape.map(Number), count, output.name)
}

/** `inference.GRPCInferenceService/ModelInfer` over one channel. Errors are grpc-js ServiceErrors. */
export class V2GrpcClient {
  private readonly client: grpc.Client

  /** `address` is `host:port`, e.g. `127.0.0.1:9000`. */
  constructor(
    address: string,
    private readonly modelName = DEFAULT_MODEL_NAME,
  ) {
    const Service = loadV2Service()
    this.client = new Service(address, grpc.credentials.createInsecure())
  }

  async infer(images: Float32Array, count: number, options: V2GrpcInferOptions = {}): Promise<PredictResult> {
    const request = v2GrpcInferRequest(this.modelName, images, count, options.raw ?? true)
    const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : {deadline: Date.now() + options.deadlineMs}
    const invoke = (this.client as unknown as Record<string, UnaryMethod>).ModelInfer.bind(this.client)
    const response = await new Promise<ModelInferResponseMessage>((resolve, reject) =>
      invoke(request, new grpc.Metadata(), callOptions, (error, answer) => (error ? reject(error) : resolve(answer as ModelInferResponseMessage))),
    )
    const index = response.outputs.findIndex((output) => output.name === OUTPUT_NAME)
    if (index === -1) throw new Error(`the answer has no output ${OUTPUT_NAME}`)
    return {modelName: response.model_name, version: Number(response.model_version), logits: logitsOfOutput(response, response.outputs[index], index, count)}
  }

  close(): void {
    this.client.close()
  }
}

import * as grpc from '@grpc/grpc-js'

import {float32FromLittleEndian} from '../../core/little-endian.js'
import {
  InferParameterMessage,
  InferParameters,
  InferTensorContentsMessage,
  ModelInferRequestMessage,
  ModelInferResponseMessage,
  ModelMetadataResponseMessage,
  ModelRequestMessage,
  ServerMetadataResponseMessage,
} from './v2-protos.js'
import {
  V2InferRequest,
  V2InferResponse,
  V2RequestedOutput,
  checkByteSize,
  checkInputNames,
  checkRequestedOutputs,
  checkV2Input,
  checkValueCount,
  inferV2,
  v2ModelMetadata,
  v2ModelReady,
  v2OutputBytes,
  v2ServerMetadata,
} from '../core/v2-inference.js'
import {ServingCore, ServingError} from '../api.js'

/**
 * `inference.GRPCInferenceService`, the Open Inference Protocol over gRPC, on the same server and
 * core as TF Serving's services. Errors are gRPC statuses as for TF Serving's (INVALID_ARGUMENT,
 * NOT_FOUND for an unknown model or version, UNAVAILABLE while no version is loaded or the
 * queue is full); health calls answer OK with live/ready true or false.
 *
 * Raw tensors: a request may send its input as `raw_input_contents` (little-endian FP32, as
 * Triton's clients do) or as `contents.fp32_contents`. The answer carries `raw_output_contents`
 * when the request sent raw inputs (KServe's rule), unless the request parameter
 * `binary_data_output` (bool_param, the name Triton's REST extension uses) says otherwise;
 * every output is then raw, as the specification requires of a response.
 */

export type V2GrpcMethod = 'ServerLive' | 'ServerReady' | 'ModelReady' | 'ServerMetadata' | 'ModelMetadata' | 'ModelInfer'

/** Route labels in the shared request metrics. */
export const V2_GRPC_ROUTE_OF: Record<V2GrpcMethod, string> = {
  ServerLive: 'v2_grpc_server_live',
  ServerReady: 'v2_grpc_server_ready',
  ModelReady: 'v2_grpc_model_ready',
  ServerMetadata: 'v2_grpc_server_metadata',
  ModelMetadata: 'v2_grpc_model_metadata',
  ModelInfer: 'v2_grpc_model_infer',
}

/** Wraps a handler into a grpc-js unary call (status codes, metrics, cancelled calls): the service's own. */
export type UnaryWrapper = <Request, Response>(
  method: V2GrpcMethod,
  handle: (request: Request) => Response | Promise<Response>,
) => grpc.handleUnaryCall<Request, Response>

const BINARY_DATA_OUTPUT = 'binary_data_output'
const CLASSIFICATION = 'classification'

function invalid(message: string): ServingError {
  return new ServingError('INVALID_ARGUMENT', message)
}

function chosenValue(parameter: InferParameterMessage): unknown {
  return parameter.parameter_choice === undefined ? undefined : parameter[parameter.parameter_choice]
}

function booleanParameter(parameters: InferParameters | undefined, name: string): boolean | undefined {
  const parameter = parameters?.[name]
  if (!parameter) return undefined
  if (parameter.parameter_choice !== 'bool_param') throw invalid(`parameter ${name} must be a bool_param, got ${parameter.parameter_choice ?? 'no value'}`)
  return parameter.bool_param
}

function classificationOf(parameters: InferParameters | undefined, outputName: string): number | undefined {
  const parameter = parameters?.[CLASSIFICATION]
  if (!parameter) return undefined
  if (parameter.parameter_choice !== 'int64_param' && parameter.parameter_choice !== 'uint64_param') {
    throw invalid(`output ${outputName}: classification must be an int64_param, got ${parameter.parameter_choice ?? 'no value'}`)
  }
  return Number(chosenValue(parameter))
}

function hasContents(contents: InferTensorContentsMessage | null | undefined): boolean {
  return !!contents && Object.values(contents).some((values) => Array.isArray(values) && values.length > 0)
}

/** The ModelInfer request as the transport-neutral V2 request, and whether to answer raw. */
function decodeInferRequest(request: ModelInferRequestMessage): {decoded: V2InferRequest; raw: boolean} {
  const inputs = request.inputs ?? []
  checkInputNames(inputs)
  const input = inputs[0]
  const header = {name: input.name, datatype: input.datatype, shape: (input.shape ?? []).map(Number)}
  const size = checkV2Input(header)
  const rawInputs = request.raw_input_contents ?? []
  let images: Float32Array
  if (rawInputs.length > 0) {
    if (rawInputs.length !== inputs.length) throw invalid(`raw_input_contents holds ${rawInputs.length} tensors for ${inputs.length} inputs`)
    if (hasContents(input.contents)) throw invalid(`input ${input.name} has both contents and raw_input_contents; send one`)
    checkByteSize(header, size, rawInputs[0].length, 'raw_input_contents')
    images = float32FromLittleEndian(rawInputs[0])
  } else {
    const values = input.contents?.fp32_contents ?? []
    checkValueCount(header, size, values.length, 'fp32_contents values')
    // NaN and ±Infinity arrive as strings; the Float32Array conversion turns them back into numbers.
    images = Float32Array.from(values as number[])
  }
  const raw = booleanParameter(request.parameters, BINARY_DATA_OUTPUT) ?? rawInputs.length > 0
  const requested: V2RequestedOutput[] = (request.outputs ?? []).map((output) => {
    const classification = classificationOf(output.parameters, output.name)
    return {name: output.name, binary: raw, ...(classification === undefined ? {} : {classification})}
  })
  return {
    decoded: {
      modelName: request.model_name,
      version: request.model_version,
      id: request.id,
      images,
      count: size.count,
      outputs: checkRequestedOutputs(requested, raw),
    },
    raw,
  }
}

function encodeInferResponse(response: V2InferResponse, raw: boolean): ModelInferResponseMessage {
  const outputs = response.outputs.map((output) => {
    const tensor = {name: output.name, datatype: output.datatype, shape: output.shape}
    if (raw) return tensor
    const contents: InferTensorContentsMessage = output.strings
      ? {bytes_contents: output.strings.map((text) => Buffer.from(text, 'utf8'))}
      : {fp32_contents: Array.from(output.floats!)}
    return {...tensor, contents}
  })
  return {
    model_name: response.modelName,
    model_version: response.modelVersion,
    id: response.id ?? '',
    outputs,
    raw_output_contents: raw ? response.outputs.map(v2OutputBytes) : [],
  }
}

async function modelInfer(core: ServingCore, request: ModelInferRequestMessage): Promise<ModelInferResponseMessage> {
  if (!request.model_name) throw invalid('model_name is empty')
  const {decoded, raw} = decodeInferRequest(request)
  return encodeInferResponse(await inferV2(core, decoded), raw)
}

function modelReady(core: ServingCore, request: ModelRequestMessage): {ready: boolean} {
  return {ready: v2ModelReady(core, request.name, request.version)}
}

/** Ready when the served model has a version that answers requests. */
function serverReady(core: ServingCore, modelName: string): {ready: boolean} {
  try {
    return {ready: v2ModelReady(core, modelName)}
  } catch (error) {
    if (error instanceof ServingError) return {ready: false}
    throw error
  }
}

/** The service's handlers over `core`; `modelName` is the model ServerReady answers for. */
export function v2ServiceHandlers(core: ServingCore, modelName: string, unary: UnaryWrapper): grpc.UntypedServiceImplementation {
  return {
    ServerLive: unary('ServerLive', () => ({live: true})),
    ServerReady: unary('ServerReady', () => serverReady(core, modelName)),
    ModelReady: unary('ModelReady', (request: ModelRequestMessage) => modelReady(core, request)),
    ServerMetadata: unary('ServerMetadata', (): ServerMetadataResponseMessage => v2ServerMetadata()),
    ModelMetadata: unary('ModelMetadata', (request: ModelRequestMessage): ModelMetadataResponseMessage => v2ModelMetadata(core, request.name, request.version)),
    ModelInfer: unary('ModelInfer', (request: ModelInferRequestMessage) => modelInfer(core, request)),
  }
}

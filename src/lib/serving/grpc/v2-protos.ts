import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

import {LOADER_OPTIONS} from './protos.js'

/**
 * The Open Inference Protocol's gRPC service, `inference.GRPCInferenceService`, from the
 * protocol's own proto/open_inference/open_inference_grpc.proto, and its messages as JS objects
 * (the same loader options as TF Serving's: field names as in the file, int64 as numbers, unset
 * fields as their defaults, a oneof's chosen field named by `parameter_choice`).
 */

const V2_SERVICE_FILE = 'open_inference/open_inference_grpc.proto'

let loaded: grpc.ServiceClientConstructor | undefined

export function loadV2Service(): grpc.ServiceClientConstructor {
  if (!loaded) {
    const definition = protoLoader.loadSync(V2_SERVICE_FILE, LOADER_OPTIONS)
    const inference = (grpc.loadPackageDefinition(definition) as {inference: Record<string, unknown>}).inference
    loaded = inference.GRPCInferenceService as grpc.ServiceClientConstructor
  }
  return loaded
}

export interface InferParameterMessage {
  bool_param?: boolean
  int64_param?: number
  string_param?: string
  double_param?: number
  uint64_param?: number
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param'
}

export type InferParameters = Record<string, InferParameterMessage>

export interface InferTensorContentsMessage {
  bool_contents?: boolean[]
  int_contents?: number[]
  int64_contents?: number[]
  uint_contents?: number[]
  uint64_contents?: number[]
  /** Numbers; NaN and ±Infinity decode as the strings "NaN", "Infinity". */
  fp32_contents?: (number | string)[]
  fp64_contents?: (number | string)[]
  bytes_contents?: Uint8Array[]
}

export interface InferInputTensorMessage {
  name: string
  datatype: string
  shape: number[]
  parameters?: InferParameters
  contents?: InferTensorContentsMessage | null
}

export interface InferRequestedOutputTensorMessage {
  name: string
  parameters?: InferParameters
}

export interface ModelInferRequestMessage {
  model_name: string
  model_version: string
  id: string
  parameters?: InferParameters
  inputs: InferInputTensorMessage[]
  outputs: InferRequestedOutputTensorMessage[]
  raw_input_contents: Uint8Array[]
}

export interface InferOutputTensorMessage {
  name: string
  datatype: string
  shape: number[]
  parameters?: InferParameters
  contents?: InferTensorContentsMessage | null
}

export interface ModelInferResponseMessage {
  model_name: string
  model_version: string
  id: string
  parameters?: InferParameters
  outputs: InferOutputTensorMessage[]
  raw_output_contents: Uint8Array[]
}

/** ModelReadyRequest and ModelMetadataRequest. */
export interface ModelRequestMessage {
  name: string
  version: string
}

export interface TensorMetadataMessage {
  name: string
  datatype: string
  shape: number[]
}

export interface ModelMetadataResponseMessage {
  name: string
  versions: string[]
  platform: string
  inputs: TensorMetadataMessage[]
  outputs: TensorMetadataMessage[]
}

export interface ServerMetadataResponseMessage {
  name: string
  version: string
  extensions: string[]
}

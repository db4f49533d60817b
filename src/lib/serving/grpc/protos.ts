import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import {fileURLToPath} from 'node:url'

import {ModelVersionStatusMessage} from '../core/version-status.js'

/** The repo's `proto/` folder (three levels up from both src/lib/serving and dist/lib/serving). */
export const PROTO_DIR = fileURLToPath(new URL('../../../../proto', import.meta.url))

/** The one metadata field TF Serving's GetModelMetadata supports. */
export const SIGNATURE_DEF_FIELD = 'signature_def'

const SERVICE_FILES = ['tensorflow_serving/apis/prediction_service.proto', 'tensorflow_serving/apis/model_service.proto']

/**
 * Field names as written in the .proto files (model_spec, float_val), int64 as numbers, enums as
 * their names, unset fields as their defaults, and `json` so that a google.protobuf.Any decodes
 * into its packed message (GetModelMetadata's signature_def).
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  json: true,
  includeDirs: [PROTO_DIR],
}

/** The services as grpc-js constructors (clients) and definitions (servers). */
export interface ServingProtos {
  PredictionService: grpc.ServiceClientConstructor
  ModelService: grpc.ServiceClientConstructor
}

let loaded: ServingProtos | undefined

export function loadServingProtos(): ServingProtos {
  if (!loaded) {
    const definition = protoLoader.loadSync(SERVICE_FILES, LOADER_OPTIONS)
    const serving = (grpc.loadPackageDefinition(definition) as {tensorflow: {serving: Record<string, unknown>}}).tensorflow.serving
    loaded = {
      PredictionService: serving.PredictionService as grpc.ServiceClientConstructor,
      ModelService: serving.ModelService as grpc.ServiceClientConstructor,
    }
  }
  return loaded
}

/** `host:port`, with brackets around an IPv6 host as gRPC targets need. */
export function grpcAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
}

/** The message types as they appear in JS objects with LOADER_OPTIONS. */
export interface ModelSpecMessage {
  name: string
  version?: {value: number} | null
  version_label?: string
  version_choice?: 'version' | 'version_label'
  signature_name: string
}

export interface TensorShapeMessage {
  dim: {size: number; name?: string}[]
  unknown_rank?: boolean
}

export interface TensorProtoMessage {
  dtype: string | number
  tensor_shape: TensorShapeMessage | null
  version_number?: number
  tensor_content: Uint8Array
  /** Numbers; with `json` decoding, NaN and ±Infinity arrive as the strings "NaN", "Infinity". */
  float_val: (number | string)[]
  double_val?: (number | string)[]
  int_val?: number[]
}

export interface PredictRequestMessage {
  model_spec: ModelSpecMessage | null
  inputs: Record<string, TensorProtoMessage>
  output_filter: string[]
}

export interface PredictResponseMessage {
  model_spec: ModelSpecMessage
  outputs: Record<string, TensorProtoMessage>
}

export interface ModelSpecRequestMessage {
  model_spec: ModelSpecMessage | null
}

export interface GetModelMetadataRequestMessage extends ModelSpecRequestMessage {
  metadata_field: string[]
}

export interface TensorInfoMessage {
  name: string
  dtype: string
  tensor_shape: TensorShapeMessage
}

export interface SignatureDefMessage {
  inputs: Record<string, TensorInfoMessage>
  outputs: Record<string, TensorInfoMessage>
  method_name: string
}

export interface SignatureDefMapMessage {
  signature_def: Record<string, SignatureDefMessage>
}

export interface GetModelMetadataResponseMessage {
  model_spec: ModelSpecMessage
  /** "signature_def" → a SignatureDefMap, as an Any (decoded with `@type` on the client side). */
  metadata: Record<string, SignatureDefMapMessage & {'@type'?: string}>
}

export interface GetModelStatusResponseMessage {
  model_version_status: ModelVersionStatusMessage[]
}

import * as grpc from '@grpc/grpc-js'

import {UserError, errorMessage} from '../../core/errors.js'
import {DEFAULT_SIGNATURE_NAME} from '../../export/format.js'
import {NUM_CLASSES} from '../../core/image.js'
import {
  GetModelMetadataRequestMessage,
  GetModelMetadataResponseMessage,
  GetModelStatusResponseMessage,
  ModelSpecMessage,
  ModelSpecRequestMessage,
  PredictRequestMessage,
  PredictResponseMessage,
  SIGNATURE_DEF_FIELD,
  SignatureDefMessage,
  grpcAddress,
  loadServingProtos,
} from './protos.js'
import {floatTensorProto, imagesFromTensorProto} from './tensor.js'
import {loadV2Service} from './v2-protos.js'
import {V2GrpcMethod, v2ServiceHandlers} from './v2-service.js'
import {DEFAULT_MODEL_NAME} from '../options.js'
import {ModelMetadata, ServingCore, ServingError, ServingErrorCode} from '../api.js'
import {modelVersionStatusMessages} from '../core/version-status.js'
import {SignatureDef} from '../../export/format.js'

const SIGNATURE_DEF_MAP_TYPE_URL = 'type.googleapis.com/tensorflow.serving.SignatureDefMap'
/** How long shutdown() lets in-flight calls finish before cutting the connections. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000

const GRPC_STATUS_OF: Record<ServingErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
}

/** The core's error code that a gRPC status stands for, if any. */
export function servingErrorCodeOf(code: grpc.status): ServingErrorCode | undefined {
  return (Object.keys(GRPC_STATUS_OF) as ServingErrorCode[]).find((servingCode) => GRPC_STATUS_OF[servingCode] === code)
}

interface RequestedModel {
  name: string
  version?: number
  signatureName: string
}

/** The model a request names; INVALID_ARGUMENT without a model_spec or name, as TF Serving answers. */
function requestedModel(spec: ModelSpecMessage | null): RequestedModel {
  if (!spec) throw new ServingError('INVALID_ARGUMENT', 'Missing ModelSpec')
  if (!spec.name) throw new ServingError('INVALID_ARGUMENT', 'model_spec.name is empty')
  if (spec.version_label) {
    throw new ServingError('INVALID_ARGUMENT', `Unrecognized servable version label: ${spec.version_label} (version labels are not served; pin model_spec.version)`)
  }
  const version = spec.version ? Number(spec.version.value) : undefined
  return {name: spec.name, version, signatureName: spec.signature_name || DEFAULT_SIGNATURE_NAME}
}

function modelSpecOf(name: string, version: number, signatureName = ''): ModelSpecMessage {
  return {name, version: {value: version}, signature_name: signatureName}
}

function aliasSet(aliases: Iterable<string>): string {
  return `{${[...aliases].join(', ')}}`
}

function signatureOf(metadata: ModelMetadata, signatureName: string): SignatureDef {
  const signature = metadata.signatures[signatureName]
  if (!signature) {
    throw new ServingError(
      'NOT_FOUND',
      `Serving signature name: "${signatureName}" not found in signature def; model ${metadata.modelName} has ${aliasSet(Object.keys(metadata.signatures))}`,
    )
  }
  return signature
}

/** The input alias the request must carry: exactly the signature's one input. */
function checkedInputAlias(request: PredictRequestMessage, signature: SignatureDef, signatureName: string): string {
  const expected = Object.keys(signature.inputs)
  const sent = Object.keys(request.inputs ?? {})
  const extra = sent.filter((alias) => !expected.includes(alias))
  const missing = expected.filter((alias) => !sent.includes(alias))
  if (extra.length > 0 || missing.length > 0) {
    throw new ServingError(
      'INVALID_ARGUMENT',
      `inputs do not match signature ${signatureName}: sent ${aliasSet(sent)}, expected ${aliasSet(expected)}` +
        (missing.length > 0 ? `; missing ${aliasSet(missing)}` : '') +
        (extra.length > 0 ? `; unknown ${aliasSet(extra)}` : ''),
    )
  }
  return expected[0]
}

function checkedOutputAliases(request: PredictRequestMessage, signature: SignatureDef): string[] {
  const outputs = Object.keys(signature.outputs)
  const filter = request.output_filter ?? []
  for (const [index, alias] of filter.entries()) {
    if (!outputs.includes(alias)) {
      throw new ServingError('INVALID_ARGUMENT', `output tensor alias not found in signature: ${alias}. Outputs expected to be in the set ${aliasSet(outputs)}.`)
    }
    if (filter.indexOf(alias) !== index) throw new ServingError('INVALID_ARGUMENT', `duplicate output tensor alias: ${alias}`)
  }
  return filter.length > 0 ? filter : outputs
}

async function predict(core: ServingCore, request: PredictRequestMessage): Promise<PredictResponseMessage> {
  const model = requestedModel(request.model_spec)
  const signature = signatureOf(core.metadata(model.name, model.version), model.signatureName)
  const inputAlias = checkedInputAlias(request, signature, model.signatureName)
  const outputAliases = checkedOutputAliases(request, signature)
  const {images, count} = imagesFromTensorProto(request.inputs[inputAlias], `input ${inputAlias}`)
  const result = await core.predict({modelName: model.name, version: model.version, signatureName: model.signatureName, images, count})
  // The classifier's signature has one output, the logits.
  const logits = floatTensorProto(result.logits, [count, NUM_CLASSES])
  return {
    model_spec: modelSpecOf(result.modelName, result.version, model.signatureName),
    outputs: Object.fromEntries(outputAliases.map((alias) => [alias, logits])),
  }
}

function signatureDefMessage(signature: SignatureDef): SignatureDefMessage {
  const tensorInfos = (infos: SignatureDef['inputs']) =>
    Object.fromEntries(
      Object.entries(infos).map(([alias, info]) => [
        alias,
        {name: info.name, dtype: info.dtype, tensor_shape: {dim: info.shape.map((size) => ({size}))}},
      ]),
    )
  return {inputs: tensorInfos(signature.inputs), outputs: tensorInfos(signature.outputs), method_name: signature.methodName}
}

function getModelMetadata(core: ServingCore, request: GetModelMetadataRequestMessage): GetModelMetadataResponseMessage {
  const model = requestedModel(request.model_spec)
  const fields = request.metadata_field ?? []
  if (fields.length === 0) throw new ServingError('INVALID_ARGUMENT', 'GetModelMetadataRequest must specify at least one metadata_field')
  const unsupported = fields.find((field) => field !== SIGNATURE_DEF_FIELD)
  if (unsupported !== undefined) throw new ServingError('INVALID_ARGUMENT', `Metadata field ${unsupported} is not supported`)
  const metadata = core.metadata(model.name, model.version)
  const signatureDefs = Object.fromEntries(Object.entries(metadata.signatures).map(([name, signature]) => [name, signatureDefMessage(signature)]))
  return {
    model_spec: modelSpecOf(metadata.modelName, metadata.version),
    // protobufjs packs an object with `@type` into a google.protobuf.Any of that message type.
    metadata: {[SIGNATURE_DEF_FIELD]: {'@type': SIGNATURE_DEF_MAP_TYPE_URL, signature_def: signatureDefs}},
  }
}

function getModelStatus(core: ServingCore, request: ModelSpecRequestMessage): GetModelStatusResponseMessage {
  const model = requestedModel(request.model_spec)
  return {model_version_status: modelVersionStatusMessages(core.status(model.name, model.version))}
}

/** Trailer that tells gRPC clients how long to back off before retrying (gRPC's retry pushback). */
const RETRY_PUSHBACK_HEADER = 'grpc-retry-pushback-ms'

function grpcErrorOf(error: unknown): grpc.StatusObject {
  if (error instanceof ServingError) {
    const metadata = new grpc.Metadata()
    if (error.retryAfterSeconds !== undefined) metadata.set(RETRY_PUSHBACK_HEADER, String(Math.round(error.retryAfterSeconds * 1000)))
    return {code: GRPC_STATUS_OF[error.code], details: error.message, metadata}
  }
  return {code: grpc.status.INTERNAL, details: errorMessage(error).split('\n')[0], metadata: new grpc.Metadata()}
}

/** The gRPC methods served, as metrics and logs name them. */
export type GrpcMethod = 'Predict' | 'GetModelMetadata' | 'GetModelStatus' | V2GrpcMethod

/** What the server reports about each call it answers (for metrics and logs). */
export interface GrpcCallHooks {
  /** Each answered call: its method, gRPC status code and time from arrival to answer. */
  onCall?: (method: GrpcMethod, code: grpc.status, seconds: number) => void
  /** Errors that are not the client's fault (answered INTERNAL). */
  onInternalError?: (method: GrpcMethod, error: unknown) => void
}

/**
 * A grpc-js unary handler around `handle`: errors become gRPC statuses; a call already
 * cancelled (deadline passed, client gone) is neither started nor answered.
 */
function unary<Request, Response>(
  method: GrpcMethod,
  handle: (request: Request) => Response | Promise<Response>,
  hooks: GrpcCallHooks,
): grpc.handleUnaryCall<Request, Response> {
  return (call, callback) => {
    if (call.cancelled) return
    const arrived = performance.now()
    const answer = (code: grpc.status, send: () => void) => {
      if (call.cancelled) return
      send()
      hooks.onCall?.(method, code, (performance.now() - arrived) / 1000)
    }
    Promise.resolve()
      .then(() => handle(call.request))
      .then(
        (response) => answer(grpc.status.OK, () => callback(null, response)),
        (error: unknown) => {
          if (!(error instanceof ServingError)) hooks.onInternalError?.(method, error)
          const status = grpcErrorOf(error)
          answer(status.code, () => callback(status))
        },
      )
  }
}

export interface GrpcServerOptions extends GrpcCallHooks {
  host: string
  /** 0 picks a free port. */
  port: number
  /** The model the V2 ServerReady call answers for (default "mnist"). */
  modelName?: string
}

export interface GrpcServer {
  /** The port actually bound. */
  port: number
  /** `host:port` as a gRPC client would dial it. */
  address: string
  /** Stops accepting calls, lets in-flight ones finish (up to `graceMs`), then closes. */
  shutdown(graceMs?: number): Promise<void>
}

/**
 * Serves TensorFlow Serving's `PredictionService` (Predict, GetModelMetadata) and
 * `ModelService` (GetModelStatus), and the Open Inference Protocol's `GRPCInferenceService`
 * (v2-service.ts), over `core`, the same core the REST app uses.
 */
export async function startGrpcServer(core: ServingCore, options: GrpcServerOptions): Promise<GrpcServer> {
  const protos = loadServingProtos()
  const server = new grpc.Server()
  server.addService(protos.PredictionService.service, {
    Predict: unary('Predict', (request: PredictRequestMessage) => predict(core, request), options),
    GetModelMetadata: unary('GetModelMetadata', (request: GetModelMetadataRequestMessage) => getModelMetadata(core, request), options),
  })
  server.addService(protos.ModelService.service, {
    GetModelStatus: unary('GetModelStatus', (request: ModelSpecRequestMessage) => getModelStatus(core, request), options),
  })
  const modelName = options.modelName ?? DEFAULT_MODEL_NAME
  server.addService(loadV2Service().service, v2ServiceHandlers(core, modelName, (method, handle) => unary(method, handle, options)))
  const requested = grpcAddress(options.host, options.port)
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(requested, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
      if (error) reject(new UserError(`cannot serve gRPC on ${requested}: ${errorMessage(error)}`))
      else resolve(boundPort)
    })
  })
  return {
    port,
    address: grpcAddress(options.host, port),
    shutdown: (graceMs = DEFAULT_SHUTDOWN_GRACE_MS) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown()
          resolve()
        }, graceMs)
        server.tryShutdown(() => {
          clearTimeout(force)
          resolve()
        })
      }),
  }
}

import * as grpc from '@grpc/grpc-js'

import {INPUT_NAME, OUTPUT_NAME} from '../export/format.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, NUM_CLASSES} from '../core/image.js'
import {
  GetModelMetadataResponseMessage,
  GetModelStatusResponseMessage,
  ModelSpecMessage,
  PredictRequestMessage,
  PredictResponseMessage,
  SIGNATURE_DEF_FIELD,
  TensorInfoMessage,
  loadServingProtos,
} from '../serving/grpc/protos.js'
import {TensorEncoding, floatTensorProto, floatsFromTensorProto} from '../serving/grpc/tensor.js'
import {DEFAULT_MODEL_NAME} from '../serving/options.js'
import {ModelMetadata, PredictResult, VersionState, VersionStatus} from '../serving/api.js'
import {TensorSpec} from '../export/format.js'

/** Which model a call is for; TF Serving's defaults when omitted. */
export interface GrpcModelOptions {
  modelName?: string
  version?: number
  signatureName?: string
  /** Milliseconds until the call fails with DEADLINE_EXCEEDED; none when omitted. */
  deadlineMs?: number
}

export interface GrpcPredictOptions extends GrpcModelOptions {
  /** float_val (default) or little-endian tensor_content. */
  encoding?: TensorEncoding
  /** Send [N, 28, 28] (default) or [N, 784]. */
  flat?: boolean
  inputAlias?: string
  outputAlias?: string
}

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => void

/**
 * A client of TensorFlow Serving's gRPC API (ours or TF Serving's own) over one channel, for
 * `mnist-rnn client --api grpc` and tests. Errors are grpc-js ServiceErrors (`code`, `details`).
 */
export class GrpcServingClient {
  private readonly prediction: grpc.Client
  private readonly models: grpc.Client

  /** `address` is `host:port`, e.g. `127.0.0.1:9000`. */
  constructor(
    address: string,
    private readonly defaultModelName = DEFAULT_MODEL_NAME,
  ) {
    const protos = loadServingProtos()
    // grpc-js pools connections, so both service clients share one to the same address.
    this.prediction = new protos.PredictionService(address, grpc.credentials.createInsecure())
    this.models = new protos.ModelService(address, grpc.credentials.createInsecure())
  }

  private call<Response>(client: grpc.Client, method: string, request: unknown, deadlineMs?: number): Promise<Response> {
    const options: grpc.CallOptions = deadlineMs === undefined ? {} : {deadline: Date.now() + deadlineMs}
    const invoke = (client as unknown as Record<string, UnaryMethod>)[method].bind(client)
    return new Promise((resolve, reject) => {
      invoke(request, new grpc.Metadata(), options, (error, response) => (error ? reject(error) : resolve(response as Response)))
    })
  }

  private modelSpec(options: GrpcModelOptions): Partial<ModelSpecMessage> {
    return {
      name: options.modelName ?? this.defaultModelName,
      ...(options.version === undefined ? {} : {version: {value: options.version}}),
      signature_name: options.signatureName ?? '',
    }
  }

  /** Logits [count, 10] for `count` images (row-major, 784 values each), and the version that answered. */
  async predict(images: Float32Array, count: number, options: GrpcPredictOptions = {}): Promise<PredictResult> {
    const inputAlias = options.inputAlias ?? INPUT_NAME
    const outputAlias = options.outputAlias ?? OUTPUT_NAME
    const shape = options.flat ? [count, IMAGE_PIXELS] : [count, IMAGE_ROWS, IMAGE_COLS]
    const request: Partial<PredictRequestMessage> = {
      model_spec: this.modelSpec(options) as ModelSpecMessage,
      inputs: {[inputAlias]: floatTensorProto(images.subarray(0, count * IMAGE_PIXELS), shape, options.encoding)},
    }
    const response = await this.call<PredictResponseMessage>(this.prediction, 'Predict', request, options.deadlineMs)
    const output = response.outputs[outputAlias]
    if (!output) throw new Error(`the answer has no output ${outputAlias}; it has {${Object.keys(response.outputs).join(', ')}}`)
    const {values, shape: outputShape} = floatsFromTensorProto(output, `output ${outputAlias}`)
    if (outputShape.length !== 2 || outputShape[0] !== count || outputShape[1] !== NUM_CLASSES) {
      throw new Error(`output ${outputAlias} has shape [${outputShape.join(',')}], expected [${count},${NUM_CLASSES}]`)
    }
    return {modelName: response.model_spec.name, version: Number(response.model_spec.version?.value), logits: values}
  }

  /** The served model's signatures, from GetModelMetadata. */
  async metadata(options: GrpcModelOptions = {}): Promise<ModelMetadata> {
    const request = {model_spec: this.modelSpec(options), metadata_field: [SIGNATURE_DEF_FIELD]}
    const response = await this.call<GetModelMetadataResponseMessage>(this.prediction, 'GetModelMetadata', request, options.deadlineMs)
    const signatureDefs = response.metadata[SIGNATURE_DEF_FIELD]?.signature_def ?? {}
    const tensorInfos = (infos: Record<string, TensorInfoMessage>): Record<string, TensorSpec> =>
      Object.fromEntries(
        Object.entries(infos).map(([alias, info]) => [
          alias,
          {name: info.name, dtype: info.dtype as TensorSpec['dtype'], shape: info.tensor_shape.dim.map((dim) => Number(dim.size))},
        ]),
      )
    return {
      modelName: response.model_spec.name,
      version: Number(response.model_spec.version?.value),
      signatures: Object.fromEntries(
        Object.entries(signatureDefs).map(([name, def]) => [
          name,
          {methodName: def.method_name, inputs: tensorInfos(def.inputs), outputs: tensorInfos(def.outputs)},
        ]),
      ),
    }
  }

  /** Each version's state, from ModelService/GetModelStatus. */
  async status(options: GrpcModelOptions = {}): Promise<VersionStatus[]> {
    const request = {model_spec: this.modelSpec(options)}
    const response = await this.call<GetModelStatusResponseMessage>(this.models, 'GetModelStatus', request, options.deadlineMs)
    return response.model_version_status.map((status) => ({
      version: Number(status.version),
      state: status.state as VersionState,
      errorMessage: status.status?.error_message ?? '',
    }))
  }

  close(): void {
    this.models.close()
    this.prediction.close()
  }
}

/** The gRPC target of a client `--url` such as `grpc://127.0.0.1:9000`. */
export function grpcAddressOfUrl(url: URL): string {
  return url.host
}

/**
 * Why a gRPC call failed, in one line and in the words the load client uses for HTTP:
 * `ECONNREFUSED` / `ENOTFOUND` when the server cannot be reached, `timed out` at the deadline,
 * otherwise `CODE: details`; undefined for errors that are not gRPC statuses.
 */
export function grpcFailureOf(error: unknown): string | undefined {
  const {code, details} = error as Partial<grpc.ServiceError>
  if (typeof code !== 'number' || typeof details !== 'string') return undefined
  if (code === grpc.status.DEADLINE_EXCEEDED) return 'timed out'
  if (code === grpc.status.UNAVAILABLE) {
    if (/ECONNREFUSED/.test(details)) return 'ECONNREFUSED'
    if (/Name resolution failed|ENOTFOUND/.test(details)) return 'ENOTFOUND'
  }
  return `${grpc.status[code]}: ${details}`
}

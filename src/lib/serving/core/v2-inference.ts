import {readFileSync} from 'node:fs'

import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, NUM_CLASSES} from '../../core/image.js'
import {littleEndianBytes} from '../../core/little-endian.js'
import {DEFAULT_SIGNATURE_NAME, FLOAT_DTYPE, INPUT_NAME, OUTPUT_NAME, SignatureDef, TensorSpec} from '../../export/format.js'
import {ServingCore, ServingError} from '../api.js'
import {softmaxRows, topClasses} from './outputs.js'
import {availableVersions} from './version-status.js'

/**
 * The Open Inference Protocol (KServe V2) over the serving core, whatever the transport: server
 * and model metadata, readiness, and inference from a decoded input to the named output tensors.
 * `rest/v2*.ts` (JSON and Triton's binary tensor extension) and `grpc/v2-service.ts` only move
 * these to and from their wire formats, so both answer alike.
 */

export const V2_SERVER_NAME = 'mnist-rnn'
/** Triton's names for the two extensions served: binary tensors over REST, top-k classification. */
export const V2_EXTENSIONS = ['binary_tensor_data', 'classification']
/**
 * The platform of the TF.js Layers model (model.json + weights.bin) on the tfjs engine, named
 * "<runtime>_<format>" as Triton names its platforms: the specification's list has no TF.js
 * platform and says the field is information only. model.onnx on ONNX Runtime is Triton's own
 * onnxruntime_onnx (TRITON_PLATFORM).
 */
export const V2_PLATFORM = 'tensorflowjs_layers'
export const FP32 = 'FP32'
export const BYTES = 'BYTES'
export const FP32_BYTE_SIZE = 4
const UINT32_BYTE_SIZE = 4
/** The softmax of the logits output, served beside it. */
export const PROBABILITIES_OUTPUT = 'probabilities'
/** Version strings that leave the choice to the server, as Triton's clients send them. */
const ANY_VERSION = new Set(['', '-1'])

const V2_DATATYPE_OF: Record<TensorSpec['dtype'], string> = {[FLOAT_DTYPE]: FP32}

function packageVersion(): string {
  const packageJson = new URL('../../../../package.json', import.meta.url)
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as {version: string}).version
}

export interface V2ServerMetadata {
  name: string
  version: string
  extensions: string[]
}

let serverMetadata: V2ServerMetadata | undefined

export function v2ServerMetadata(): V2ServerMetadata {
  serverMetadata ??= {name: V2_SERVER_NAME, version: packageVersion(), extensions: V2_EXTENSIONS}
  return serverMetadata
}

export interface V2TensorMetadata {
  name: string
  datatype: string
  shape: number[]
}

export interface V2ModelMetadata {
  name: string
  /** The versions a request may name: those being served. */
  versions: string[]
  platform: string
  inputs: V2TensorMetadata[]
  outputs: V2TensorMetadata[]
}

function invalid(message: string): ServingError {
  return new ServingError('INVALID_ARGUMENT', message)
}

function shapeText(shape: number[]): string {
  return `[${shape.join(',')}]`
}

function nameSet(names: string[]): string {
  return `{${names.join(', ')}}`
}

/** The version a V2 path or field names; undefined leaves it to the server (the served version). */
export function v2Version(modelName: string, text: string | undefined): number | undefined {
  if (text === undefined || ANY_VERSION.has(text)) return undefined
  if (!/^\d+$/.test(text)) throw new ServingError('NOT_FOUND', `Servable not found for request: Specific(${modelName}, ${text}); versions are whole numbers`)
  return Number(text)
}

function servingSignature(signatures: Record<string, SignatureDef>, modelName: string): SignatureDef {
  const signature = signatures[DEFAULT_SIGNATURE_NAME]
  if (!signature) throw new ServingError('FAILED_PRECONDITION', `model ${modelName} has no "${DEFAULT_SIGNATURE_NAME}" signature`)
  return signature
}

function tensorMetadata(infos: Record<string, TensorSpec>): V2TensorMetadata[] {
  return Object.entries(infos).map(([alias, info]) => ({name: alias, datatype: V2_DATATYPE_OF[info.dtype], shape: [...info.shape]}))
}

/**
 * The model's inputs and outputs as V2 names them: the signature's (x_input, y_output logits),
 * and `probabilities`, the softmax of the logits, which a request may ask for by name like any
 * output (and which a request naming no outputs gets too, as the specification says).
 */
function signatureTensors(signature: SignatureDef): {inputs: V2TensorMetadata[]; outputs: V2TensorMetadata[]} {
  const outputs = tensorMetadata(signature.outputs)
  const logits = outputs[0]
  return {inputs: tensorMetadata(signature.inputs), outputs: [...outputs, {...logits, name: PROBABILITIES_OUTPUT}]}
}

export function v2ModelMetadata(core: ServingCore, modelName: string, versionText?: string): V2ModelMetadata {
  const metadata = core.metadata(modelName, v2Version(modelName, versionText))
  const versions = availableVersions(core.status(modelName)).map(String)
  return {name: metadata.modelName, versions, platform: core.platform ?? V2_PLATFORM, ...signatureTensors(servingSignature(metadata.signatures, modelName))}
}

/**
 * Whether the model (or that version of it) answers requests: AVAILABLE, and the server ready
 * (ServingCore.isReady: false once a graceful shutdown began, as /readyz and ServerReady say).
 * NOT_FOUND for an unknown model or version.
 */
export function v2ModelReady(core: ServingCore, modelName: string, versionText?: string): boolean {
  const version = v2Version(modelName, versionText)
  const statuses = core.status(modelName, version)
  return availableVersions(statuses).length > 0 && core.isReady()
}

// ---- inference ----------------------------------------------------------------------------

/** An input tensor as a request declares it, before its values are read. */
export interface V2InputHeader {
  name: string
  datatype: string
  shape: number[]
}

/** What the one input of the model holds: `count` images, `elements` = count·784 values. */
export interface V2InputSize {
  count: number
  elements: number
}

/**
 * INVALID_ARGUMENT unless a request's inputs are exactly the model's one input, x_input (not
 * missing, not given twice, no input the model does not have).
 */
export function checkInputNames(inputs: {name: string}[]): void {
  if (inputs.length === 0) throw invalid(`the request has no inputs; the model takes ${INPUT_NAME} ${FP32} [-1,${IMAGE_ROWS},${IMAGE_COLS}]`)
  const unknown = inputs.find((input) => input.name !== INPUT_NAME)
  if (unknown) throw invalid(`unknown input "${unknown.name}"; the model's input is ${INPUT_NAME}`)
  if (inputs.length > 1) throw invalid(`input ${INPUT_NAME} is given ${inputs.length} times`)
}

/**
 * The batch an input header describes: datatype FP32, shape [N, 28, 28] or [N, 784] with N ≥ 1;
 * INVALID_ARGUMENT naming what is wrong otherwise.
 */
export function checkV2Input(input: V2InputHeader): V2InputSize {
  if (input.datatype !== FP32) throw invalid(`input ${input.name} has datatype ${input.datatype || 'none'}; the model takes ${FP32}`)
  const {shape} = input
  if (shape.some((size) => !Number.isSafeInteger(size) || size < 0)) {
    throw invalid(`input ${input.name} has an invalid shape ${shapeText(shape)}: sizes must be whole numbers ≥ 0`)
  }
  const isRows = shape.length === 3 && shape[1] === IMAGE_ROWS && shape[2] === IMAGE_COLS
  const isFlat = shape.length === 2 && shape[1] === IMAGE_PIXELS
  if (!isRows && !isFlat) {
    throw invalid(`input ${input.name} has shape ${shapeText(shape)}; expected [N,${IMAGE_ROWS},${IMAGE_COLS}] or [N,${IMAGE_PIXELS}]`)
  }
  const count = shape[0]
  if (count < 1) throw invalid(`input ${input.name} is an empty batch: N must be at least 1`)
  return {count, elements: count * IMAGE_PIXELS}
}

/** INVALID_ARGUMENT unless `got` values were sent for an input that needs `size.elements`. */
export function checkValueCount(input: V2InputHeader, size: V2InputSize, got: number, what = 'values'): void {
  if (got !== size.elements) {
    throw invalid(`input ${input.name} has ${got} ${what} for shape ${shapeText(input.shape)} (${size.elements} expected)`)
  }
}

/** INVALID_ARGUMENT unless `bytes` is the size of the input's FP32 values. */
export function checkByteSize(input: V2InputHeader, size: V2InputSize, bytes: number, what: string): void {
  if (bytes !== size.elements * FP32_BYTE_SIZE) {
    throw invalid(`input ${input.name} has ${what} of ${bytes} bytes for ${FP32} shape ${shapeText(input.shape)} (${size.elements * FP32_BYTE_SIZE} expected)`)
  }
}

/** An output a request asks for: by name, optionally as its top-k classes, as binary data or not. */
export interface V2RequestedOutput {
  name: string
  /** Top-k classes instead of the tensor (the classification extension); 0 or absent: the tensor. */
  classification?: number
  /** REST: answer it after the JSON header as binary data (the binary tensor extension). */
  binary: boolean
}

/** The outputs `requested` (all of the model's when none are named); INVALID_ARGUMENT for unknown or repeated names. */
export function checkRequestedOutputs(requested: V2RequestedOutput[] | undefined, allBinary: boolean): V2RequestedOutput[] {
  const names = [OUTPUT_NAME, PROBABILITIES_OUTPUT]
  if (requested === undefined || requested.length === 0) return names.map((name) => ({name, binary: allBinary}))
  requested.forEach((output, index) => {
    if (!names.includes(output.name)) throw invalid(`unknown output "${output.name}"; the model's outputs are ${nameSet(names)}`)
    if (requested.findIndex((other) => other.name === output.name) !== index) throw invalid(`output ${output.name} is requested twice`)
    const k = output.classification
    if (k !== undefined && !(Number.isSafeInteger(k) && k >= 0)) {
      throw invalid(`output ${output.name}: classification must be a whole number of classes ≥ 0, got ${k}`)
    }
  })
  return requested
}

export interface V2InferRequest {
  modelName: string
  /** As the path or message names it; absent, "" or "-1": the served version. */
  version?: string
  id?: string
  /** [count, 784] row-major, decoded by the transport. */
  images: Float32Array
  count: number
  /** From checkRequestedOutputs. */
  outputs: V2RequestedOutput[]
}

/** An output tensor: FP32 values, or BYTES strings for classifications. */
export interface V2OutputTensor {
  name: string
  datatype: typeof FP32 | typeof BYTES
  shape: number[]
  floats?: Float32Array
  strings?: string[]
  binary: boolean
}

export interface V2InferResponse {
  modelName: string
  modelVersion: string
  id?: string
  outputs: V2OutputTensor[]
}

function outputTensor(output: V2RequestedOutput, scores: Float32Array, count: number): V2OutputTensor {
  const k = output.classification ?? 0
  if (k > 0) {
    const strings = topClasses(scores, count, k)
    return {name: output.name, datatype: BYTES, shape: [count, Math.min(k, NUM_CLASSES)], strings, binary: output.binary}
  }
  return {name: output.name, datatype: FP32, shape: [count, NUM_CLASSES], floats: scores, binary: output.binary}
}

/** Runs a decoded request through the core's batching queue and builds the outputs it asked for. */
export async function inferV2(core: ServingCore, request: V2InferRequest): Promise<V2InferResponse> {
  const version = v2Version(request.modelName, request.version)
  const result = await core.predict({modelName: request.modelName, version, images: request.images, count: request.count})
  let probabilities: Float32Array | undefined
  const outputs = request.outputs.map((output) => {
    if (output.name !== PROBABILITIES_OUTPUT) return outputTensor(output, result.logits, request.count)
    probabilities ??= Float32Array.from(softmaxRows(result.logits, request.count))
    return outputTensor(output, probabilities, request.count)
  })
  return {modelName: result.modelName, modelVersion: String(result.version), ...(request.id ? {id: request.id} : {}), outputs}
}

/** BYTES elements in binary form: each a little-endian uint32 length, then its UTF-8 bytes. */
function bytesTensor(strings: string[]): Buffer {
  const parts = strings.map((text) => Buffer.from(text, 'utf8'))
  const out = Buffer.alloc(parts.reduce((sum, part) => sum + UINT32_BYTE_SIZE + part.length, 0))
  let offset = 0
  for (const part of parts) {
    offset = out.writeUInt32LE(part.length, offset)
    offset += part.copy(out, offset)
  }
  return out
}

/**
 * An output tensor as raw bytes, as both REST's binary tensor extension and gRPC's
 * raw_output_contents carry it: FP32 little-endian, BYTES length-prefixed.
 */
export function v2OutputBytes(output: V2OutputTensor): Uint8Array {
  return output.strings ? bytesTensor(output.strings) : littleEndianBytes(output.floats!)
}

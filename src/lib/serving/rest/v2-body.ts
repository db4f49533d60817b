import {IMAGE_COLS, IMAGE_ROWS} from '../../core/image.js'
import {float32FromLittleEndian} from '../../core/little-endian.js'
import {INPUT_NAME} from '../../export/format.js'
import {HttpError} from './http-errors.js'
import {parseJson} from './json-body.js'
import {describeValue, isPlainObject} from './request-parsing.js'
import {float32Number} from './bodies.js'
import {
  FP32,
  FP32_BYTE_SIZE,
  V2InferResponse,
  V2InputHeader,
  V2OutputTensor,
  V2RequestedOutput,
  checkByteSize,
  checkInputNames,
  checkRequestedOutputs,
  checkV2Input,
  checkValueCount,
  v2OutputBytes,
} from '../core/v2-inference.js'
import {ServingError} from '../api.js'

/**
 * The Open Inference Protocol's REST bodies: the JSON inference request and response, and
 * Triton's binary tensor data extension — a JSON header of `Inference-Header-Content-Length`
 * bytes, then each binary tensor's little-endian bytes in the order the JSON lists them
 * (`binary_data_size` on inputs; `binary_data` on requested outputs, `binary_data_output` on the
 * request). A header length of 0 is Triton's "raw binary request": the whole body is the one
 * input, one image, and every output comes back binary.
 */

/** Lower case, as node:http gives request headers. */
export const INFERENCE_HEADER_LENGTH_HEADER = 'inference-header-content-length'

export interface ParsedV2Request {
  id?: string
  images: Float32Array
  count: number
  outputs: V2RequestedOutput[]
}

function invalid(message: string): ServingError {
  return new ServingError('INVALID_ARGUMENT', message)
}

function optionalObject(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined) return {}
  if (!isPlainObject(value)) throw invalid(`${where} must be an object, got ${describeValue(value)}`)
  return value
}

function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value
  throw invalid(`${where} must be true or false, got ${describeValue(value)}`)
}

function wholeNumber(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  throw invalid(`${where} must be a whole number ≥ 0, got ${describeValue(value)}`)
}

function requiredString(value: unknown, where: string): string {
  if (typeof value === 'string') return value
  throw invalid(`${where} must be a string, got ${describeValue(value)}`)
}

/** The JSON part and the binary part of a body, split where the header length says. */
function splitBody(body: Buffer, headerLengthText: string | undefined): {json: Buffer; binary: Buffer; headerGiven: boolean} {
  if (headerLengthText === undefined) return {json: body, binary: body.subarray(body.length), headerGiven: false}
  const headerLength = /^\d+$/.test(headerLengthText.trim()) ? Number(headerLengthText.trim()) : Number.NaN
  if (!(headerLength <= body.length)) {
    throw new HttpError(400, `Inference-Header-Content-Length must be a whole number of bytes from 0 to the body's ${body.length}, got "${headerLengthText}"`)
  }
  return {json: body.subarray(0, headerLength), binary: body.subarray(headerLength), headerGiven: true}
}

/**
 * Copies the values of `data` (flat or nested no deeper than the shape's rank) into `out`, and
 * counts them; INVALID_ARGUMENT naming the first value that is not a number.
 */
function copyTensorData(data: unknown, out: Float32Array, input: V2InputHeader): number {
  let count = 0
  const copyList = (list: unknown[], depth: number): void => {
    if (depth > input.shape.length) throw invalid(`input ${input.name} data is nested deeper than its shape [${input.shape.join(',')}]`)
    for (let i = 0; i < list.length; i++) {
      const value = list[i]
      if (typeof value === 'number') {
        if (count < out.length) out[count] = value
        count++
      } else if (Array.isArray(value)) {
        copyList(value, depth + 1)
      } else {
        throw invalid(`input ${input.name} data[${count}] is ${describeValue(value)}; values must be finite numbers`)
      }
    }
  }
  if (!Array.isArray(data)) throw invalid(`input ${input.name} data must be a list of numbers, got ${describeValue(data)}`)
  copyList(data, 1)
  return count
}

function inputHeaderOf(value: unknown, where: string): {header: V2InputHeader; parameters: Record<string, unknown>; data: unknown} {
  if (!isPlainObject(value)) throw invalid(`${where} must be an object, got ${describeValue(value)}`)
  const name = requiredString(value.name, `${where}.name`)
  const datatype = requiredString(value.datatype, `input ${name}: datatype`)
  if (!Array.isArray(value.shape)) throw invalid(`input ${name}: shape must be a list of whole numbers, got ${describeValue(value.shape)}`)
  const shape = value.shape.map((size, i) => wholeNumber(size, `input ${name}: shape[${i}]`))
  return {header: {name, datatype, shape}, parameters: optionalObject(value.parameters, `input ${name}: parameters`), data: value.data}
}

function requestedOutputOf(value: unknown, where: string, allBinary: boolean): V2RequestedOutput {
  if (!isPlainObject(value)) throw invalid(`${where} must be an object, got ${describeValue(value)}`)
  const name = requiredString(value.name, `${where}.name`)
  const parameters = optionalObject(value.parameters, `output ${name}: parameters`)
  const binary = optionalBoolean(parameters.binary_data, `output ${name}: parameters.binary_data`) ?? allBinary
  const classification = parameters.classification === undefined ? undefined : wholeNumber(parameters.classification, `output ${name}: parameters.classification`)
  return {name, binary, ...(classification === undefined ? {} : {classification})}
}

/** Triton's raw binary request: no JSON, the body is one image of the one input; outputs all binary. */
function rawBinaryRequest(binary: Buffer): ParsedV2Request {
  const header = {name: INPUT_NAME, datatype: FP32, shape: [1, IMAGE_ROWS, IMAGE_COLS]}
  const size = checkV2Input(header)
  checkByteSize(header, size, binary.length, 'a raw binary body (Inference-Header-Content-Length 0)')
  return {images: float32FromLittleEndian(binary), count: size.count, outputs: checkRequestedOutputs(undefined, true)}
}

/**
 * A V2 inference request from its body: JSON, or JSON plus binary tensor data when the
 * Inference-Header-Content-Length header is given. 400 naming what is wrong otherwise.
 */
export function parseV2InferBody(body: Buffer, headerLengthText: string | undefined): ParsedV2Request {
  const {json, binary, headerGiven} = splitBody(body, headerLengthText)
  if (headerGiven && json.length === 0) return rawBinaryRequest(binary)
  if (json.length === 0) throw new HttpError(400, 'empty body: send a JSON inference request {"inputs": [...]}')
  const request = parseJson(json.toString('utf8'))
  if (!isPlainObject(request)) throw invalid(`the body must be a JSON object, got ${describeValue(request)}`)
  const id = request.id === undefined ? undefined : requiredString(request.id, '"id"')
  const parameters = optionalObject(request.parameters, '"parameters"')
  const allBinary = optionalBoolean(parameters.binary_data_output, 'parameters.binary_data_output') ?? false

  if (!Array.isArray(request.inputs)) throw invalid(`"inputs" must be a list of input tensors, got ${describeValue(request.inputs)}`)
  const inputs = request.inputs.map((input, i) => inputHeaderOf(input, `inputs[${i}]`))
  checkInputNames(inputs.map((input) => input.header))
  const {header, parameters: inputParameters, data} = inputs[0]
  const size = checkV2Input(header)

  let images: Float32Array
  const hasData = data !== undefined
  const binarySize = inputParameters.binary_data_size
  if (hasData === (binarySize !== undefined)) {
    throw invalid(`input ${header.name} must have exactly one of "data" and parameters.binary_data_size, got ${hasData ? 'both' : 'neither'}`)
  }
  if (hasData) {
    images = new Float32Array(size.elements)
    checkValueCount(header, size, copyTensorData(data, images, header))
  } else {
    if (!headerGiven) throw invalid(`input ${header.name} has parameters.binary_data_size but the request has no Inference-Header-Content-Length header`)
    checkByteSize(header, size, wholeNumber(binarySize, `input ${header.name}: parameters.binary_data_size`), 'binary_data_size')
    images = float32FromLittleEndian(binary.subarray(0, size.elements * FP32_BYTE_SIZE))
  }
  const binaryUsed = hasData ? 0 : size.elements * FP32_BYTE_SIZE
  if (binary.length !== binaryUsed) {
    throw invalid(`the body has ${binary.length} bytes of binary data after its JSON header, but the inputs' binary_data_size add up to ${binaryUsed}`)
  }

  if (request.outputs !== undefined && !Array.isArray(request.outputs)) throw invalid(`"outputs" must be a list, got ${describeValue(request.outputs)}`)
  const requested = request.outputs?.map((output, i) => requestedOutputOf(output, `outputs[${i}]`, allBinary))
  return {...(id === undefined ? {} : {id}), images, count: size.count, outputs: checkRequestedOutputs(requested, allBinary)}
}

function jsonData(output: V2OutputTensor): (number | string)[] {
  if (output.strings) return output.strings
  const values = output.floats!
  const data = new Array<number>(values.length)
  for (let i = 0; i < values.length; i++) data[i] = float32Number(values[i])
  return data
}

export interface EncodedV2Response {
  body: string | Buffer
  headers: Record<string, string>
}

/**
 * The inference response: plain JSON, or (when an output is binary) the JSON header, then each
 * binary output's bytes, with Inference-Header-Content-Length and application/octet-stream.
 */
export function encodeV2InferResponse(response: V2InferResponse): EncodedV2Response {
  const chunks: Uint8Array[] = []
  const outputs = response.outputs.map((output) => {
    const tensor = {name: output.name, datatype: output.datatype, shape: output.shape}
    if (!output.binary) return {...tensor, data: jsonData(output)}
    const bytes = v2OutputBytes(output)
    chunks.push(bytes)
    return {...tensor, parameters: {binary_data_size: bytes.length}}
  })
  const json = JSON.stringify({
    model_name: response.modelName,
    model_version: response.modelVersion,
    ...(response.id === undefined ? {} : {id: response.id}),
    outputs,
  })
  if (chunks.length === 0) return {body: json, headers: {'Content-Type': 'application/json'}}
  const header = Buffer.from(json, 'utf8')
  return {
    body: Buffer.concat([header, ...chunks]),
    headers: {'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length)},
  }
}

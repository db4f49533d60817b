import {DEFAULT_SIGNATURE_NAME, INPUT_NAME} from '../../export/format.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS} from '../../core/image.js'
import {ServingError} from '../api.js'

/**
 * Turns JSON request bodies into a batch of images, or a one-line INVALID_ARGUMENT naming what is
 * wrong and where (`instances[3][27][5] is a string`). An image is either 784 numbers or 28 rows
 * of 28 numbers; every pixel must be a finite number.
 */

export interface ParsedImages {
  /** [count, 28, 28] row-major. */
  images: Float32Array
  count: number
}

/** TF Serving's two request formats: row (`instances`) or columnar (`inputs`). */
export type PredictFormat = 'row' | 'columnar'

export interface ParsedPredictRequest extends ParsedImages {
  format: PredictFormat
  signatureName: string
}

function invalid(message: string): ServingError {
  return new ServingError('INVALID_ARGUMENT', message)
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)})`
  if (typeof value === 'number') return String(value)
  return `${typeof value === 'object' ? 'an object' : `a ${typeof value}`}`
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Copies `count` pixels of `values` into `out` at `offset`; the error names `where[i]` (built only on failure). */
function copyPixels(values: unknown[], count: number, where: string, out: Float32Array, offset: number): void {
  for (let i = 0; i < count; i++) {
    const value = values[i]
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw invalid(`${where}[${i}] is ${describeValue(value)}; pixels must be finite numbers`)
    }
    out[offset + i] = value
  }
}

const IMAGE_SHAPE_HINT = `an image is ${IMAGE_PIXELS} numbers or ${IMAGE_ROWS} rows of ${IMAGE_COLS}`

/** Copies one image (flat 784 or 28×28) into `out` at image slot `slot`. */
function readImage(value: unknown, where: string, out: Float32Array, slot: number): void {
  if (!Array.isArray(value)) throw invalid(`${where} is ${describeValue(value)}; ${IMAGE_SHAPE_HINT}`)
  const base = slot * IMAGE_PIXELS
  if (value.length === IMAGE_PIXELS && !Array.isArray(value[0])) {
    copyPixels(value, IMAGE_PIXELS, where, out, base)
    return
  }
  if (value.length !== IMAGE_ROWS || !Array.isArray(value[0])) {
    throw invalid(`${where} has ${value.length} values; ${IMAGE_SHAPE_HINT}`)
  }
  for (let row = 0; row < IMAGE_ROWS; row++) {
    const pixels = value[row]
    if (!Array.isArray(pixels) || pixels.length !== IMAGE_COLS) {
      const what = Array.isArray(pixels) ? `has ${pixels.length} values` : `is ${describeValue(pixels)}`
      throw invalid(`${where}[${row}] ${what}; expected a row of ${IMAGE_COLS} numbers`)
    }
    copyPixels(pixels, IMAGE_COLS, `${where}[${row}]`, out, base + row * IMAGE_COLS)
  }
}

/** A non-empty list of images, each read by `imageOf(item, where)`. */
function readImageList(list: unknown, where: string, imageOf: (item: unknown, where: string) => unknown = (item) => item): ParsedImages {
  if (!Array.isArray(list)) throw invalid(`${where} must be a list of images, got ${describeValue(list)}`)
  if (list.length === 0) throw invalid(`empty batch: ${where} holds no images`)
  const images = new Float32Array(list.length * IMAGE_PIXELS)
  for (let i = 0; i < list.length; i++) {
    const itemWhere = `${where}[${i}]`
    readImage(imageOf(list[i], itemWhere), itemWhere, images, i)
  }
  return {images, count: list.length}
}

/** Whether `value` is one image (flat 784 numbers, or 28 rows of 28) rather than a list of images. */
function looksLikeOneImage(value: unknown[]): boolean {
  const first = value[0]
  if (!Array.isArray(first)) return true
  return first.length === IMAGE_COLS && !Array.isArray(first[0])
}

function requireObjectBody(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw invalid(`the body must be a JSON object, got ${describeValue(body)}`)
  return body
}

/**
 * The seed's Flask contract: `{"data": image}` for one image or `{"data": [image, …]}` for a
 * batch, an image being 784 numbers or 28 rows of 28.
 */
export function parseFlaskBody(body: unknown): ParsedImages {
  const {data} = requireObjectBody(body)
  if (data === undefined) throw invalid('missing "data": send {"data": [784 pixel values]} or {"data": [[784 values], …]}')
  if (!Array.isArray(data)) throw invalid(`"data" must be a list, got ${describeValue(data)}`)
  if (data.length === 0) throw invalid('empty batch: "data" holds no images')
  if (looksLikeOneImage(data)) {
    const images = new Float32Array(IMAGE_PIXELS)
    readImage(data, 'data', images, 0)
    return {images, count: 1}
  }
  return readImageList(data, 'data')
}

/** An instance is the image itself or, as TF Serving also accepts, `{"x_input": image}`. */
function imageOfInstance(instance: unknown, where: string): unknown {
  if (!isPlainObject(instance)) return instance
  return namedInput(instance, where)
}

/** The one input of the signature out of an object keyed by input name. */
function namedInput(inputs: Record<string, unknown>, where: string): unknown {
  const names = Object.keys(inputs)
  const unknown = names.filter((name) => name !== INPUT_NAME)
  if (unknown.length > 0) throw invalid(`${where} names unknown input ${JSON.stringify(unknown[0])}; the signature's input is "${INPUT_NAME}"`)
  if (!(INPUT_NAME in inputs)) throw invalid(`${where} lacks input "${INPUT_NAME}"`)
  return inputs[INPUT_NAME]
}

/**
 * TensorFlow Serving's predict body: `{"signature_name"?, "instances": [...]}` (row format) or
 * `{"signature_name"?, "inputs": [...] | {"x_input": [...]}}` (columnar format), batch first.
 */
export function parsePredictBody(body: unknown): ParsedPredictRequest {
  const object = requireObjectBody(body)
  const signatureName = object.signature_name ?? DEFAULT_SIGNATURE_NAME
  if (typeof signatureName !== 'string') throw invalid(`"signature_name" must be a string, got ${describeValue(signatureName)}`)
  const hasInstances = object.instances !== undefined
  const hasInputs = object.inputs !== undefined
  if (hasInstances && hasInputs) throw invalid('send either "instances" (row format) or "inputs" (columnar format), not both')
  if (hasInstances) return {format: 'row', signatureName, ...readImageList(object.instances, 'instances', imageOfInstance)}
  if (hasInputs) {
    const inputs = isPlainObject(object.inputs) ? namedInput(object.inputs, 'inputs') : object.inputs
    const where = isPlainObject(object.inputs) ? `inputs.${INPUT_NAME}` : 'inputs'
    return {format: 'columnar', signatureName, ...readImageList(inputs, where)}
  }
  throw invalid('missing "instances" or "inputs": send {"instances": [image, …]} or {"inputs": [image, …]}')
}

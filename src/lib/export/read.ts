import * as tf from '@tensorflow/tfjs'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {UserError, errorMessage} from '../core/errors.js'
import {KERAS_WEIGHT_PATHS} from '../model/keras.js'
import {ClassifierWeights, WEIGHT_NAMES, WeightArrays, classifierWeightsFromArrays, weightShapes} from '../model/weights.js'
import {IMAGE_COLS} from '../core/image.js'
import {cannotReadError, checkFolderReadable, isPermissionError, sha256Hex} from '../core/files.js'
import {
  CHECKSUMMED_FILES,
  DEFAULT_SIGNATURE_NAME,
  ExportSignature,
  FLOAT_DTYPE,
  INPUT_NAME,
  INPUT_SHAPE,
  MODEL_JSON_FILE,
  ONNX_MODEL_FILE,
  OPTIONAL_CHECKSUMMED_FILES,
  OUTPUT_NAME,
  OUTPUT_SHAPE,
  PREDICT_METHOD_NAME,
  SERVE_TAG,
  SIGNATURE_FILE,
  TensorSpec,
  VersionFormat,
  WEIGHTS_FILE,
  formatsOf,
} from './format.js'
import {onnxModelProblem} from './onnx/classifier-model.js'


const FLOAT32_BYTES = 4

/** A version folder that passed every check: its signature and its weights as arrays. */
export interface VerifiedExport {
  signature: ExportSignature
  weightArrays: WeightArrays
  hidden: number
  sizeBytes: number
  /** The formats the version holds (tfjs-layers always; onnx when signature.json records model.onnx). */
  formats: VersionFormat[]
  /** model.onnx's verified bytes, when the version has it. */
  onnxModel?: Buffer
}

/**
 * Checks a version folder completely: signature.json parses and matches the serving contract
 * (tags, serving_default x_input [-1,28,28] → y_output [-1,10]), every file matches its recorded
 * sha256, weights.bin holds the classifier's weights, and model.onnx (when recorded) is an ONNX
 * graph x_input [N,28,28] → y_output [N,10]. A UserError names the folder and what is wrong.
 */
export function verifyExportFolder(folder: string): VerifiedExport {
  const fail = (what: string): never => {
    throw new UserError(`${folder}: ${what}`)
  }
  if (!existsSync(folder)) fail('no such export folder')
  if (!statSync(folder).isDirectory()) fail('not a folder')
  checkFolderReadable(folder)
  const signature = checkSignature(readJson(folder, SIGNATURE_FILE), fail)
  const contents: Record<string, Buffer> = {}
  let sizeBytes = statSync(join(folder, SIGNATURE_FILE)).size
  const recordedOptional = OPTIONAL_CHECKSUMMED_FILES.filter((name) => signature.files[name] !== undefined)
  for (const name of [...CHECKSUMMED_FILES, ...recordedOptional]) {
    const bytes = readFile(folder, name)
    const recorded = signature.files[name]
    if (!recorded) fail(`${SIGNATURE_FILE} records no checksum for ${name}`)
    if (bytes.byteLength !== recorded.bytes || sha256Hex(bytes) !== recorded.sha256) {
      fail(`${name} fails its recorded sha256 (${bytes.byteLength} bytes, ${recorded.bytes} recorded): the file changed or is incomplete`)
    }
    contents[name] = bytes
    sizeBytes += bytes.byteLength
  }
  const {weightArrays, hidden} = decodeClassifierWeights(contents[MODEL_JSON_FILE], contents[WEIGHTS_FILE], fail)
  if (hidden !== signature.model.hidden_units) fail(`weights have ${hidden} hidden units, ${SIGNATURE_FILE} says ${signature.model.hidden_units}`)
  const onnxModel = contents[ONNX_MODEL_FILE]
  const onnxProblem = onnxModel && onnxModelProblem(onnxModel)
  if (onnxProblem) fail(onnxProblem)
  return {signature, weightArrays, hidden, sizeBytes, formats: formatsOf(signature), onnxModel}
}

/**
 * What verifyExportFolder found wrong with `folder`, without the `folder: ` its messages start
 * with (a message that names a path itself, like `cannot read exportmodel/2: permission denied`, stays whole).
 */
export function folderProblemOf(folder: string, error: unknown): string {
  const message = errorMessage(error)
  const prefix = `${folder}: `
  return message.startsWith(prefix) ? message.slice(prefix.length) : message
}

/** Loads a verified folder's weights as tf.Variables (the caller disposes them). */
export function loadVerifiedWeights(verified: VerifiedExport): ClassifierWeights {
  return classifierWeightsFromArrays(verified.weightArrays, verified.hidden)
}

function readFile(folder: string, name: string): Buffer {
  try {
    return readFileSync(join(folder, name))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UserError(`${folder}: missing ${name} (incomplete export)`)
    if (isPermissionError(error)) throw cannotReadError(join(folder, name), error)
    throw new UserError(`${folder}: cannot read ${name}: ${errorMessage(error)}`)
  }
}

function readJson(folder: string, name: string): unknown {
  const text = readFile(folder, name).toString('utf8')
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UserError(`${folder}: ${name} is not valid JSON (${errorMessage(error)})`)
  }
}

function checkSignature(json: unknown, fail: (what: string) => never): ExportSignature {
  const signature = json as ExportSignature
  if (typeof signature !== 'object' || signature === null) fail(`${SIGNATURE_FILE} is not an object`)
  if (!Array.isArray(signature.tags) || !signature.tags.includes(SERVE_TAG)) fail(`${SIGNATURE_FILE} lacks the "${SERVE_TAG}" tag`)
  const def = signature.signature_def?.[DEFAULT_SIGNATURE_NAME]
  if (!def) fail(`${SIGNATURE_FILE} has no "${DEFAULT_SIGNATURE_NAME}" signature`)
  if (def.method_name !== PREDICT_METHOD_NAME) fail(`signature method is "${def.method_name}", expected "${PREDICT_METHOD_NAME}"`)
  checkTensor(def.inputs?.[INPUT_NAME], 'input', INPUT_NAME, INPUT_SHAPE, fail)
  checkTensor(def.outputs?.[OUTPUT_NAME], 'output', OUTPUT_NAME, OUTPUT_SHAPE, fail)
  if (typeof signature.files !== 'object' || signature.files === null) fail(`${SIGNATURE_FILE} records no file checksums`)
  if (!Number.isInteger(signature.model?.hidden_units)) fail(`${SIGNATURE_FILE} does not give the model's hidden units`)
  if (typeof signature.provenance !== 'object' || signature.provenance === null) fail(`${SIGNATURE_FILE} has no provenance`)
  return signature
}

function checkTensor(spec: TensorSpec | undefined, role: string, name: string, shape: number[], fail: (what: string) => never): void {
  if (!spec) fail(`the signature has no ${role} "${name}"`)
  if (spec.dtype !== FLOAT_DTYPE) fail(`${role} ${name} has dtype ${spec.dtype}, expected ${FLOAT_DTYPE}`)
  if (!Array.isArray(spec.shape) || spec.shape.join() !== shape.join()) {
    fail(`${role} ${name} has shape [${(spec.shape ?? []).join(', ')}], expected [${shape.join(', ')}]`)
  }
}

/** Reads the weights named in model.json's manifest out of weights.bin (all float32, in manifest order). */
function decodeClassifierWeights(
  modelJsonBytes: Buffer,
  weightsBin: Buffer,
  fail: (what: string) => never,
): {weightArrays: WeightArrays; hidden: number} {
  let modelJson: tf.io.ModelJSON
  try {
    modelJson = JSON.parse(modelJsonBytes.toString('utf8')) as tf.io.ModelJSON
  } catch (error) {
    return fail(`${MODEL_JSON_FILE} is not valid JSON (${errorMessage(error)})`)
  }
  if (!Array.isArray(modelJson.weightsManifest)) fail(`${MODEL_JSON_FILE} has no weights manifest`)
  const byName = new Map<string, Float32Array>()
  let offset = 0
  for (const spec of tf.io.getWeightSpecs(modelJson.weightsManifest)) {
    if (spec.dtype !== 'float32' || spec.quantization) fail(`weight ${spec.name} is not plain float32`)
    const length = spec.shape.reduce((a, b) => a * b, 1)
    const end = offset + length * FLOAT32_BYTES
    if (end > weightsBin.byteLength) fail(`${WEIGHTS_FILE} is shorter than its manifest`)
    byName.set(spec.name, new Float32Array(weightsBin.buffer.slice(weightsBin.byteOffset + offset, weightsBin.byteOffset + end)))
    offset = end
  }
  const weightArrays = {} as WeightArrays
  for (const name of WEIGHT_NAMES) {
    const values = byName.get(KERAS_WEIGHT_PATHS[name])
    if (!values) fail(`${MODEL_JSON_FILE} has no weight ${KERAS_WEIGHT_PATHS[name]}`)
    weightArrays[name] = values
  }
  const lstmWidth = weightArrays.bias.length
  const hidden = lstmWidth / 4
  const inputFeatures = weightArrays.kernel.length / lstmWidth
  if (!Number.isInteger(hidden) || hidden < 1) fail(`the LSTM bias has ${lstmWidth} values, not a multiple of 4`)
  if (inputFeatures !== IMAGE_COLS) fail(`the model reads rows of ${inputFeatures} pixels, expected ${IMAGE_COLS} (input [-1, 28, 28])`)
  const shapes = weightShapes(hidden)
  for (const name of WEIGHT_NAMES) {
    const expected = shapes[name].reduce((a, b) => a * b, 1)
    if (weightArrays[name].length !== expected) {
      fail(`weight ${KERAS_WEIGHT_PATHS[name]} has ${weightArrays[name].length} values, expected ${expected} for ${hidden} hidden units`)
    }
  }
  return {weightArrays, hidden}
}

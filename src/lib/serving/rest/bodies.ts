import {NUM_CLASSES} from '../../core/image.js'
import {ModelMetadata, VersionStatus} from '../api.js'
import {TensorSpec} from '../../export/format.js'

/**
 * JSON bodies in TensorFlow Serving's REST shapes (and the seed's Flask shape), built from the
 * serving core's answers.
 */

/** Nine significant digits round-trip a float32 exactly, without float64 noise in the JSON. */
const FLOAT32_DIGITS = 9

function float32Number(value: number): number {
  return Number(value.toPrecision(FLOAT32_DIGITS))
}

/** [count, 10] logits as nested rows. */
export function logitRows(logits: Float32Array, count: number): number[][] {
  const rows: number[][] = []
  for (let i = 0; i < count; i++) {
    const row = new Array<number>(NUM_CLASSES)
    for (let k = 0; k < NUM_CLASSES; k++) row[k] = float32Number(logits[i * NUM_CLASSES + k])
    rows.push(row)
  }
  return rows
}

/** Softmax of each row of [count, 10] logits, as the seed's Flask app answered. */
export function probabilityRows(logits: Float32Array, count: number): number[][] {
  const rows: number[][] = []
  for (let i = 0; i < count; i++) {
    const offset = i * NUM_CLASSES
    let max = -Infinity
    for (let k = 0; k < NUM_CLASSES; k++) max = Math.max(max, logits[offset + k])
    const row = new Array<number>(NUM_CLASSES)
    let sum = 0
    for (let k = 0; k < NUM_CLASSES; k++) {
      row[k] = Math.exp(logits[offset + k] - max)
      sum += row[k]
    }
    for (let k = 0; k < NUM_CLASSES; k++) row[k] = float32Number(row[k] / sum)
    rows.push(row)
  }
  return rows
}

/** TF Serving's ModelVersionStatus as its REST API prints it (version as a string). */
export function statusBody(statuses: VersionStatus[]) {
  return {
    model_version_status: statuses.map((status) => ({
      version: String(status.version),
      state: status.state,
      status: {error_code: status.errorMessage ? 'UNKNOWN' : 'OK', error_message: status.errorMessage},
    })),
  }
}

function tensorInfoBody(info: TensorSpec) {
  return {
    dtype: info.dtype,
    tensor_shape: {dim: info.shape.map((size) => ({size: String(size), name: ''})), unknown_rank: false},
    name: info.name,
  }
}

function tensorInfosBody(infos: Record<string, TensorSpec>) {
  return Object.fromEntries(Object.entries(infos).map(([alias, info]) => [alias, tensorInfoBody(info)]))
}

/** TF Serving's GetModelMetadata answer in REST form. */
export function metadataBody(metadata: ModelMetadata) {
  const signatureDefs = Object.fromEntries(
    Object.entries(metadata.signatures).map(([name, def]) => [
      name,
      {inputs: tensorInfosBody(def.inputs), outputs: tensorInfosBody(def.outputs), method_name: def.methodName},
    ]),
  )
  return {
    model_spec: {name: metadata.modelName, signature_name: '', version: String(metadata.version)},
    metadata: {signature_def: {signature_def: signatureDefs}},
  }
}

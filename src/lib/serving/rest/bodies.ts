import {NUM_CLASSES} from '../../core/image.js'
import {ModelMetadata, VersionStatus} from '../api.js'
import {TensorSpec} from '../../export/format.js'
import {softmaxRows} from '../core/outputs.js'
import {modelVersionStatusMessages} from '../core/version-status.js'

/**
 * JSON bodies in TensorFlow Serving's REST shapes (and the seed's Flask shape), built from the
 * serving core's answers.
 */

/** Nine significant digits round-trip a float32 exactly, without float64 noise in the JSON. */
const FLOAT32_DIGITS = 9

export function float32Number(value: number): number {
  return Number(value.toPrecision(FLOAT32_DIGITS))
}

/** [count, 10] values as nested rows of float32 numbers. */
function float32Rows(values: ArrayLike<number>, count: number): number[][] {
  const rows: number[][] = []
  for (let i = 0; i < count; i++) {
    const row = new Array<number>(NUM_CLASSES)
    for (let k = 0; k < NUM_CLASSES; k++) row[k] = float32Number(values[i * NUM_CLASSES + k])
    rows.push(row)
  }
  return rows
}

/** [count, 10] logits as nested rows. */
export function logitRows(logits: Float32Array, count: number): number[][] {
  return float32Rows(logits, count)
}

/** Softmax of each row of [count, 10] logits, as the seed's Flask app answered. */
export function probabilityRows(logits: Float32Array, count: number): number[][] {
  return float32Rows(softmaxRows(logits, count), count)
}

/** TF Serving's ModelVersionStatus as its REST API prints it (int64 version as a string, as proto3 JSON writes it). */
export function statusBody(statuses: VersionStatus[]) {
  return {model_version_status: modelVersionStatusMessages(statuses).map((status) => ({...status, version: String(status.version)}))}
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

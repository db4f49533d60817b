import {FileRecord} from '../core/files.js'
import {INPUT_LAYER_NAME, OUTPUT_LAYER_NAME} from '../model/keras.js'
import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../core/image.js'

/**
 * The on-disk contract of an exported model: `EXPORT_DIR/N/` holds the stock TF.js Layers files
 * (model.json + weights.bin), the same network as ONNX (model.onnx), and signature.json, which
 * tags the model like a TensorFlow SavedModel (tags, signature_def) and records where it came
 * from and the sha256 of each file.
 */
export const MODEL_JSON_FILE = 'model.json'
export const WEIGHTS_FILE = 'weights.bin'
export const ONNX_MODEL_FILE = 'model.onnx'
export const SIGNATURE_FILE = 'signature.json'
/** The files every version has and signature.json checksums, in the order they are written. */
export const CHECKSUMMED_FILES = [MODEL_JSON_FILE, WEIGHTS_FILE] as const
/**
 * Files a version may have: checked against signature.json when it records them. Versions
 * exported before ONNX export existed have no model.onnx and stay valid.
 */
export const OPTIONAL_CHECKSUMMED_FILES = [ONNX_MODEL_FILE] as const

/** The formats a version can hold, and the files each consists of. */
export const VERSION_FORMATS = {'tfjs-layers': [MODEL_JSON_FILE, WEIGHTS_FILE], onnx: [ONNX_MODEL_FILE]} as const
export type VersionFormat = keyof typeof VERSION_FORMATS

export const DEFAULT_EXPORT_DIR = 'exportmodel'
export const EXPORT_FORMAT = 'mnist-rnn-export/1'
export const SERVE_TAG = 'serve'
export const DEFAULT_SIGNATURE_NAME = 'serving_default'
export const PREDICT_METHOD_NAME = 'tensorflow/serving/predict'
export const INPUT_NAME = INPUT_LAYER_NAME
export const OUTPUT_NAME = OUTPUT_LAYER_NAME
export const FLOAT_DTYPE = 'DT_FLOAT'
/** -1: any batch size, as TensorFlow writes an unknown dimension. */
export const BATCH_DIMENSION = -1
export const INPUT_SHAPE = [BATCH_DIMENSION, IMAGE_ROWS, IMAGE_COLS]
export const OUTPUT_SHAPE = [BATCH_DIMENSION, NUM_CLASSES]

/**
 * Folders a version scanner must skip: work in progress (`.tmp-export-<pid>-…`) and a replaced
 * version on its way out (`.old-…`). Dot-prefixed, so they never parse as a version number.
 */
export const TEMP_FOLDER_PREFIX = '.tmp-export-'
export const RETIRED_FOLDER_PREFIX = '.old-export-'

export interface TensorSpec {
  name: string
  dtype: typeof FLOAT_DTYPE
  /** -1 for the batch dimension. */
  shape: number[]
}

export interface SignatureDefJson {
  method_name: string
  inputs: Record<string, TensorSpec>
  outputs: Record<string, TensorSpec>
}

export interface ExportProvenance {
  checkpoint: {name: string; path: string; step: number; epoch?: number}
  /** Accuracy on the test set measured at export time, and on how many images. */
  test_accuracy: number
  test_images: number
  training_config: Record<string, unknown>
  created_at: string
  toolkit_version: string
  backend: string
  /** The stock-loader check made before publishing, and ONNX Runtime's check of model.onnx (absent before ONNX export existed). */
  verification: {probe_images: number; max_abs_difference: number; tolerance: number; onnxruntime?: OnnxVerification}
}

/** ONNX Runtime's logits for model.onnx against the checkpoint's, on the same probe images. */
export interface OnnxVerification {
  max_abs_difference: number
  tolerance: number
  /** The onnxruntime-node version that ran the check. */
  version: string
}

/** A signature as the serving front ends describe it (camelCase, TF Serving's SignatureDef). */
export interface SignatureDef {
  methodName: string
  inputs: Record<string, TensorSpec>
  outputs: Record<string, TensorSpec>
}

/** The parsed signature.json. */
export interface ExportSignature {
  format: string
  tags: string[]
  signature_def: Record<string, SignatureDefJson>
  model: {architecture: 'lstm'; hidden_units: number; output: 'logits'}
  provenance: ExportProvenance
  files: Record<string, FileRecord>
}

export function servingDefaultSignature(): SignatureDefJson {
  return {
    method_name: PREDICT_METHOD_NAME,
    inputs: {[INPUT_NAME]: {name: INPUT_NAME, dtype: FLOAT_DTYPE, shape: [...INPUT_SHAPE]}},
    outputs: {[OUTPUT_NAME]: {name: OUTPUT_NAME, dtype: FLOAT_DTYPE, shape: [...OUTPUT_SHAPE]}},
  }
}

/** The signature in the serving layer's types (camelCase), for metadata responses. */
export function signatureDefsOf(signature: ExportSignature): Record<string, SignatureDef> {
  const defs: Record<string, SignatureDef> = {}
  for (const [name, def] of Object.entries(signature.signature_def)) {
    defs[name] = {methodName: def.method_name, inputs: def.inputs, outputs: def.outputs}
  }
  return defs
}

/** The formats whose files signature.json records (only recorded, checksummed files count). */
export function formatsOf(signature: ExportSignature): VersionFormat[] {
  return (Object.keys(VERSION_FORMATS) as VersionFormat[]).filter((format) => VERSION_FORMATS[format].every((file) => signature.files[file] !== undefined))
}

/** A version folder's name: a positive integer without sign or leading zeros. */
export function versionOfFolderName(name: string): number | undefined {
  return /^[1-9]\d*$/.test(name) && Number.isSafeInteger(Number(name)) ? Number(name) : undefined
}

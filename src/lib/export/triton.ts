import {closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {join} from 'node:path'

import {UserError, errorMessage} from '../core/errors.js'
import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../core/image.js'
import {INPUT_NAME, ONNX_MODEL_FILE, OUTPUT_NAME} from './format.js'

/**
 * A Triton Inference Server model repository holding the exported versions' model.onnx, laid out
 * as Triton's model repository documentation requires:
 *
 *   DIR/<model-name>/config.pbtxt          ModelConfig in protobuf text format (model_config.proto)
 *   DIR/<model-name>/<version>/model.onnx  the `onnxruntime_onnx` backend's default file name
 *
 * The batch dimension is implicit in Triton's dims (max_batch_size > 0), so x_input is [28, 28]
 * and y_output [10]; `dynamic_batching {}` lets Triton merge concurrent requests as `serve` does.
 */
export const TRITON_CONFIG_FILE = 'config.pbtxt'
export const TRITON_PLATFORM = 'onnxruntime_onnx'
export const TRITON_FLOAT_TYPE = 'TYPE_FP32'
/** Triton's dynamic batcher forms batches up to this many images (our `serve` default is 64). */
export const DEFAULT_TRITON_MAX_BATCH_SIZE = 256
const TEMP_PREFIX = '.tmp-mnist-rnn-'

export interface TritonModelConfig {
  name: string
  maxBatchSize: number
}

/** A Triton model name is a folder name: letters, digits, `_`, `-`, `.` (not only dots). */
export function checkTritonModelName(name: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || /^\.+$/.test(name)) {
    throw new UserError(`the Triton model name must be a folder name of letters, digits, "_", "-" or ".", got "${name}"`)
  }
}

function quoted(text: string): string {
  return JSON.stringify(text)
}

/** config.pbtxt's text. */
export function tritonConfigText(config: TritonModelConfig): string {
  const tensor = (name: string, dims: number[]) => [
    '  {',
    `    name: ${quoted(name)}`,
    `    data_type: ${TRITON_FLOAT_TYPE}`,
    `    dims: [ ${dims.join(', ')} ]`,
    '  }',
  ]
  return [
    '# Triton model configuration (ModelConfig, model_config.proto), written by mnist-rnn export.',
    `name: ${quoted(config.name)}`,
    `platform: ${quoted(TRITON_PLATFORM)}`,
    `max_batch_size: ${config.maxBatchSize}`,
    'input [',
    ...tensor(INPUT_NAME, [IMAGE_ROWS, IMAGE_COLS]),
    ']',
    'output [',
    ...tensor(OUTPUT_NAME, [NUM_CLASSES]),
    ']',
    'dynamic_batching { }',
    '',
  ].join('\n')
}

export interface WriteTritonOptions {
  repoDir: string
  modelName: string
  version: number
  onnxModel: Uint8Array
  maxBatchSize?: number
  /** Replace the version if the repository already holds it. */
  force?: boolean
}

export interface TritonResult {
  configPath: string
  modelPath: string
  replaced: boolean
}

/** UserError when the repository already holds `version` of the model (without force). */
export function checkTritonVersionAvailable(repoDir: string, modelName: string, version: number, force: boolean): void {
  checkTritonModelName(modelName)
  const path = join(repoDir, modelName, String(version))
  if (!force && existsSync(path)) throw new UserError(`${path} already exists in the Triton repository (use --force to replace it)`)
}

/**
 * Adds a version to the Triton repository: model.onnx goes into a folder Triton ignores
 * (not numeric) and is renamed to `<version>`; config.pbtxt is replaced atomically.
 */
export function writeTritonVersion(options: WriteTritonOptions): TritonResult {
  const {repoDir, modelName, version} = options
  const force = Boolean(options.force)
  checkTritonVersionAvailable(repoDir, modelName, version, force)
  const maxBatchSize = options.maxBatchSize ?? DEFAULT_TRITON_MAX_BATCH_SIZE
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new UserError(`the Triton max_batch_size must be a whole number ≥ 1, got ${maxBatchSize}`)
  const modelDir = join(repoDir, modelName)
  try {
    mkdirSync(modelDir, {recursive: true})
  } catch (error) {
    throw new UserError(`cannot create the Triton model folder ${modelDir}: ${errorMessage(error)}`)
  }
  const tempDir = mkdtempSync(join(modelDir, TEMP_PREFIX))
  const versionDir = join(modelDir, String(version))
  let replaced = false
  try {
    writeDurably(join(tempDir, ONNX_MODEL_FILE), options.onnxModel)
    writeDurably(join(tempDir, TRITON_CONFIG_FILE), Buffer.from(tritonConfigText({name: modelName, maxBatchSize})))
    renameSync(join(tempDir, TRITON_CONFIG_FILE), join(modelDir, TRITON_CONFIG_FILE))
    if (existsSync(versionDir)) {
      replaced = true
      rmSync(versionDir, {recursive: true, force: true})
    }
    renameSync(tempDir, versionDir)
  } catch (error) {
    rmSync(tempDir, {recursive: true, force: true})
    throw new UserError(`cannot write version ${version} to the Triton repository ${repoDir}: ${errorMessage(error)}`)
  }
  return {configPath: join(modelDir, TRITON_CONFIG_FILE), modelPath: join(versionDir, ONNX_MODEL_FILE), replaced}
}

function writeDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w')
  try {
    writeSync(fd, bytes)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

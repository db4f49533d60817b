import {existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {DataPosition} from '../data/batches.js'
import {UserError, errorMessage} from '../core/errors.js'
import {ClassifierWeights, WEIGHT_NAMES, WeightArrays, WeightName, classifierWeightsFromArrays, weightShapes} from '../model/weights.js'
import {TrainingConfig, storedTrainingConfig} from './config.js'
import {OptimizerState, OptimizerTensor, isOptimizerName} from './optimizers.js'
import {directoryExists, writeFileDurably, sha256Hex} from '../core/files.js'

/** The index file: JSON {"latest": "ckpt-60", "all": ["ckpt-30", "ckpt-60"]}, oldest first. */
export const CHECKPOINT_INDEX_FILE = 'checkpoint'
export const CHECKPOINT_PREFIX = 'ckpt-'
/** Inside each checkpoint folder. */
export const MANIFEST_FILE = 'checkpoint.json'
export const WEIGHTS_FILE = 'weights.bin'
export const OPTIMIZER_FILE = 'optimizer.bin'
const FORMAT = 'mnist-rnn-checkpoint'
const FORMAT_VERSION = 1
/** Names of work in progress; a crash can leave them behind and the next save removes them. */
const TEMP_PREFIX = '.tmp-'
const FLOAT32_BYTES = 4

export interface CheckpointIndex {
  latest: string
  all: string[]
}

/** Where one tensor sits in a .bin file (little-endian float32). */
export interface StoredTensor {
  name: string
  shape: number[]
  byteOffset: number
  byteLength: number
}

interface StoredFile {
  file: string
  sha256: string
  tensors: StoredTensor[]
}

/** `ckpt-N/checkpoint.json`. */
export interface CheckpointManifest {
  format: typeof FORMAT
  formatVersion: number
  name: string
  step: number
  /** Completed epochs: floor(step / batches per epoch). */
  epoch: number
  dataPosition: DataPosition
  config: TrainingConfig
  metrics: Record<string, number>
  createdAt: string
  weights: StoredFile
  optimizer: StoredFile & {name: OptimizerState['name']; iterations: number}
}

/** What a checkpoint holds, in memory: what the trainer hands over to be saved. */
export interface TrainingState {
  step: number
  epoch: number
  dataPosition: DataPosition
  config: TrainingConfig
  metrics: Record<string, number>
  weights: WeightArrays
  optimizer: OptimizerState
}

export interface LoadedCheckpoint {
  name: string
  path: string
  step: number
  epoch: number
  config: TrainingConfig
  metrics: Record<string, number>
  /** tf.Variables: the caller disposes them. */
  weights: ClassifierWeights
  sizeBytes: number
  createdAt: string
  dataPosition: DataPosition
  optimizer: OptimizerState
}

export interface CheckpointSummary {
  name: string
  path: string
  latest: boolean
  step?: number
  epoch?: number
  metrics?: Record<string, number>
  createdAt?: string
  sizeBytes?: number
  /** Why the checkpoint cannot be loaded, when it cannot. */
  error?: string
}

export function checkpointName(step: number): string {
  return `${CHECKPOINT_PREFIX}${step}`
}

function stepOfName(name: string): number {
  return Number(name.slice(CHECKPOINT_PREFIX.length))
}

function isCheckpointName(name: string): boolean {
  return name.startsWith(CHECKPOINT_PREFIX) && /^\d+$/.test(name.slice(CHECKPOINT_PREFIX.length))
}

/** A checkpoint directory, if it exists, must be a directory. */
function checkDirectory(dir: string): boolean {
  return directoryExists(dir, 'checkpoint directory')
}

// ---------------------------------------------------------------------------------------------
// Index

/** The index, or undefined when the directory holds none. */
export function readCheckpointIndex(dir: string): CheckpointIndex | undefined {
  if (!checkDirectory(dir)) return undefined
  const path = join(dir, CHECKPOINT_INDEX_FILE)
  if (!existsSync(path)) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new UserError(`${path} is corrupt: ${errorMessage(error)}`)
  }
  const index = parsed as Partial<CheckpointIndex>
  const validNames = Array.isArray(index.all) && index.all.every((name) => typeof name === 'string' && isCheckpointName(name))
  if (typeof index.latest !== 'string' || !isCheckpointName(index.latest) || !validNames) {
    throw new UserError(`${path} is corrupt: expected {"latest": "ckpt-N", "all": [...]}`)
  }
  return {latest: index.latest, all: index.all as string[]}
}

/** Replaces the index atomically: a temporary file renamed over the old one. */
function writeCheckpointIndex(dir: string, index: CheckpointIndex): void {
  const temp = join(dir, `${TEMP_PREFIX}${CHECKPOINT_INDEX_FILE}-${process.pid}`)
  writeFileDurably(temp, `${JSON.stringify(index)}\n`)
  renameSync(temp, join(dir, CHECKPOINT_INDEX_FILE))
}

// ---------------------------------------------------------------------------------------------
// Save

function packTensors(file: string, tensors: Array<{name: string; shape: number[]; values: Float32Array}>): {stored: StoredFile; bytes: Uint8Array} {
  const totalBytes = tensors.reduce((sum, tensor) => sum + tensor.values.length * FLOAT32_BYTES, 0)
  const bytes = new Uint8Array(totalBytes)
  const view = new DataView(bytes.buffer)
  const entries: StoredTensor[] = []
  let offset = 0
  for (const {name, shape, values} of tensors) {
    entries.push({name, shape, byteOffset: offset, byteLength: values.length * FLOAT32_BYTES})
    for (let i = 0; i < values.length; i++, offset += FLOAT32_BYTES) view.setFloat32(offset, values[i], true)
  }
  return {stored: {file, sha256: sha256Hex(bytes), tensors: entries}, bytes}
}

function removeLeftovers(dir: string): void {
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith(TEMP_PREFIX)) rmSync(join(dir, entry), {recursive: true, force: true})
  }
}

/**
 * Writes `ckpt-<step>` into `dir`: the folder is written under a temporary name and renamed into
 * place, then the index is replaced (last), then checkpoints beyond the newest `keep` are deleted.
 * A crash at any moment leaves the index naming a complete checkpoint. Returns the folder's path.
 */
export function saveCheckpoint(dir: string, state: TrainingState, keep: number): string {
  const existed = checkDirectory(dir)
  if (!existed) mkdirSync(dir, {recursive: true})
  removeLeftovers(dir)

  const name = checkpointName(state.step)
  const shapes = weightShapes(state.config.hidden)
  const weights = packTensors(
    WEIGHTS_FILE,
    WEIGHT_NAMES.map((weightName) => ({name: weightName, shape: shapes[weightName], values: state.weights[weightName]})),
  )
  const optimizer = packTensors(OPTIMIZER_FILE, state.optimizer.tensors)
  const manifest: CheckpointManifest = {
    format: FORMAT,
    formatVersion: FORMAT_VERSION,
    name,
    step: state.step,
    epoch: state.epoch,
    dataPosition: state.dataPosition,
    config: state.config,
    metrics: state.metrics,
    createdAt: new Date().toISOString(),
    weights: weights.stored,
    optimizer: {...optimizer.stored, name: state.optimizer.name, iterations: state.optimizer.iterations},
  }

  const temp = join(dir, `${TEMP_PREFIX}${name}-${process.pid}`)
  mkdirSync(temp)
  writeFileDurably(join(temp, WEIGHTS_FILE), weights.bytes)
  writeFileDurably(join(temp, OPTIMIZER_FILE), optimizer.bytes)
  writeFileDurably(join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`)

  const finalPath = join(dir, name)
  // A folder of that name that the index does not trust (left by a crash before the index was
  // updated) is moved aside first: rename cannot replace a non-empty directory.
  if (existsSync(finalPath)) renameSync(finalPath, join(dir, `${TEMP_PREFIX}old-${name}-${process.pid}`))
  renameSync(temp, finalPath)

  const previous = readCheckpointIndex(dir)
  const all = [...new Set([...(previous?.all ?? []), name])].sort((a, b) => stepOfName(a) - stepOfName(b))
  const kept = all.slice(Math.max(0, all.length - keep))
  if (!kept.includes(name)) kept.push(name)
  writeCheckpointIndex(dir, {latest: name, all: kept})

  for (const pruned of all.filter((entry) => !kept.includes(entry))) {
    rmSync(join(dir, pruned), {recursive: true, force: true})
  }
  removeLeftovers(dir)
  return finalPath
}

// ---------------------------------------------------------------------------------------------
// Load

function readManifest(path: string): CheckpointManifest {
  const manifestPath = join(path, MANIFEST_FILE)
  if (!existsSync(manifestPath)) throw new UserError(`${path} is not a checkpoint: ${MANIFEST_FILE} is missing`)
  let manifest: CheckpointManifest
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as CheckpointManifest
  } catch (error) {
    throw new UserError(`${manifestPath} is corrupt: ${errorMessage(error)}`)
  }
  if (manifest.format !== FORMAT) throw new UserError(`${manifestPath} is not an mnist-rnn checkpoint manifest`)
  if (manifest.formatVersion !== FORMAT_VERSION) {
    throw new UserError(`${manifestPath} has format version ${manifest.formatVersion}; this mnist-rnn reads version ${FORMAT_VERSION}`)
  }
  if (!isOptimizerName(manifest.optimizer?.name ?? '')) throw new UserError(`${manifestPath} names an unknown optimizer`)
  return manifest
}

function readTensors(path: string, stored: StoredFile): {tensors: OptimizerTensor[]; byteLength: number} {
  const filePath = join(path, stored.file)
  if (!existsSync(filePath)) throw new UserError(`checkpoint ${path} is incomplete: ${stored.file} is missing`)
  const bytes = readFileSync(filePath)
  if (sha256Hex(bytes) !== stored.sha256) throw new UserError(`${filePath} is corrupt: its sha256 does not match ${MANIFEST_FILE}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const tensors = stored.tensors.map(({name, shape, byteOffset, byteLength}) => {
    if (byteOffset + byteLength > bytes.length) throw new UserError(`${filePath} is corrupt: tensor ${name} runs past the end`)
    const values = new Float32Array(byteLength / FLOAT32_BYTES)
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(byteOffset + i * FLOAT32_BYTES, true)
    return {name, shape, values}
  })
  return {tensors, byteLength: bytes.length}
}

function resolveName(dir: string, name: string | undefined): string {
  if (name !== undefined) {
    const resolved = /^\d+$/.test(name) ? checkpointName(Number(name)) : name
    if (!isCheckpointName(resolved)) throw new UserError(`"${name}" is not a checkpoint name (ckpt-N)`)
    return resolved
  }
  const index = readCheckpointIndex(dir)
  if (!index) {
    throw new UserError(existsSync(dir) ? `no checkpoint in ${dir} (no ${CHECKPOINT_INDEX_FILE} index file)` : `checkpoint directory ${dir} does not exist`)
  }
  return index.latest
}

/**
 * Loads a checkpoint from `checkpointDir`: the one named (`ckpt-60` or `60`), or the latest the
 * index names. Verifies each file's sha256. Missing, corrupt or unreadable: a UserError.
 * The returned weights are tf.Variables that the caller disposes.
 */
export function loadCheckpoint(checkpointDir: string, name?: string): LoadedCheckpoint {
  if (!checkDirectory(checkpointDir)) throw new UserError(`checkpoint directory ${checkpointDir} does not exist`)
  const resolved = resolveName(checkpointDir, name)
  const path = join(checkpointDir, resolved)
  if (!existsSync(path)) {
    throw new UserError(name === undefined ? `${path}, named latest by ${join(checkpointDir, CHECKPOINT_INDEX_FILE)}, is missing` : `no checkpoint ${path}`)
  }
  const manifest = readManifest(path)
  const weightFile = readTensors(path, manifest.weights)
  const optimizerFile = readTensors(path, manifest.optimizer)

  const arrays = {} as WeightArrays
  for (const weightName of WEIGHT_NAMES) {
    const tensor = weightFile.tensors.find((entry) => entry.name === weightName)
    if (!tensor) throw new UserError(`${join(path, WEIGHTS_FILE)} lacks the weight ${weightName}`)
    arrays[weightName as WeightName] = tensor.values
  }
  let weights: ClassifierWeights
  try {
    weights = classifierWeightsFromArrays(arrays, manifest.config.hidden)
  } catch (error) {
    throw new UserError(`checkpoint ${path} is corrupt: ${errorMessage(error)}`)
  }
  const manifestBytes = statSync(join(path, MANIFEST_FILE)).size
  return {
    name: resolved,
    path,
    step: manifest.step,
    epoch: manifest.epoch,
    // Checkpoints from before schedules existed lack their fields: filled in as those runs trained.
    config: storedTrainingConfig(manifest.config),
    metrics: manifest.metrics,
    weights,
    sizeBytes: weightFile.byteLength + optimizerFile.byteLength + manifestBytes,
    createdAt: manifest.createdAt,
    dataPosition: manifest.dataPosition,
    optimizer: {name: manifest.optimizer.name, iterations: manifest.optimizer.iterations, tensors: optimizerFile.tensors},
  }
}

/** The checkpoints the index lists, oldest first, each with its step and metrics or why it cannot load. */
export function listCheckpoints(checkpointDir: string): CheckpointSummary[] {
  const index = readCheckpointIndex(checkpointDir)
  if (!index) return []
  return index.all.map((name) => {
    const path = join(checkpointDir, name)
    const latest = name === index.latest
    try {
      if (!existsSync(path)) throw new UserError(`${path} is missing`)
      const manifest = readManifest(path)
      const sizeBytes = [MANIFEST_FILE, WEIGHTS_FILE, OPTIMIZER_FILE]
        .map((file) => join(path, file))
        .filter((file) => existsSync(file))
        .reduce((sum, file) => sum + statSync(file).size, 0)
      return {name, path, latest, step: manifest.step, epoch: manifest.epoch, metrics: manifest.metrics, createdAt: manifest.createdAt, sizeBytes}
    } catch (error) {
      return {name, path, latest, error: errorMessage(error)}
    }
  })
}

import {existsSync, mkdirSync, readdirSync, renameSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {UserError, errorMessage} from '../core/errors.js'
import {cannotReadError, fileProblem, makeUniqueFolder} from '../core/files.js'
import {ClassifierWeights, hiddenUnitsOf, weightArraysOf} from '../model/weights.js'
import {IMAGE_PIXELS} from '../core/image.js'
import {fileRecordOf, syncFolder, writeFileDurably} from '../core/files.js'
import {
  DEFAULT_SIGNATURE_NAME,
  EXPORT_FORMAT,
  ExportProvenance,
  ExportSignature,
  MODEL_JSON_FILE,
  ONNX_MODEL_FILE,
  OnnxVerification,
  RETIRED_FOLDER_PREFIX,
  SERVE_TAG,
  SIGNATURE_FILE,
  TEMP_FOLDER_PREFIX,
  WEIGHTS_FILE,
  servingDefaultSignature,
} from './format.js'
import {encodeOnnxClassifier} from './onnx/classifier-model.js'
import {FileRecord} from '../core/files.js'
import {layersModelFiles} from './layers-files.js'
import {verifyExportFolder} from './read.js'
import {ONNX_VERIFY_TOLERANCE, VERIFY_TOLERANCE, maxDifferenceFromOnnxRuntime, maxDifferenceFromStockLoader} from './verify.js'
import {nextVersion} from './versions.js'
import {requireInteger} from '../core/validation.js'

export interface WriteExportOptions {
  weights: ClassifierWeights
  exportDir: string
  /** Default: one more than the highest existing version. */
  version?: number
  /** Replace an existing version (atomically). */
  force?: boolean
  provenance: Omit<ExportProvenance, 'verification' | 'created_at'>
  /** Images [count·784] whose logits the stock loader and ONNX Runtime must reproduce. */
  probeImages: Float32Array
  tolerance?: number
  /** Also write model.onnx, verified in ONNX Runtime (default true; false writes only the TF.js Layers format). */
  onnx?: boolean
  onnxTolerance?: number
  /**
   * Awaited half-way through writing the files (model.json written, weights.bin not yet), with
   * the temporary folder: where a test stops the process to see that a crash publishes nothing.
   */
  midWrite?: (tempPath: string) => Promise<void>
}

export interface ExportResult {
  version: number
  path: string
  files: Record<string, FileRecord>
  /** All files of the version folder, signature.json included. */
  sizeBytes: number
  maxAbsDifference: number
  probeImages: number
  /** True when --force replaced an existing version. */
  replaced: boolean
  signature: ExportSignature
}


/**
 * Writes version N of an exported model so that it appears complete or not at all: everything is
 * written into a temporary folder inside the export directory (one a version scanner ignores),
 * checked (stock loader reproduces the logits within the tolerance; checksums and signature
 * verify), then renamed to `N`. With `force`, an existing `N` is renamed aside, the new one
 * renamed in, and the old one deleted.
 */
export async function writeExport(options: WriteExportOptions): Promise<ExportResult> {
  const {exportDir, weights} = options
  const tolerance = options.tolerance ?? VERIFY_TOLERANCE
  createExportDir(exportDir)
  const version = options.version ?? nextVersion(exportDir)
  requireInteger(version, 'version', 1)
  const finalPath = join(exportDir, String(version))
  checkVersionAvailable(exportDir, version, Boolean(options.force))
  removeAbandonedFolders(exportDir)

  const tempPath = makeTempFolder(exportDir)
  try {
    const {modelJson, weightsBin} = await layersModelFiles(weights)
    writeFileDurably(join(tempPath, MODEL_JSON_FILE), modelJson)
    await options.midWrite?.(tempPath)
    writeFileDurably(join(tempPath, WEIGHTS_FILE), weightsBin)
    const files: Record<string, FileRecord> = {[MODEL_JSON_FILE]: fileRecordOf(modelJson), [WEIGHTS_FILE]: fileRecordOf(weightsBin)}

    const maxAbsDifference = await maxDifferenceFromStockLoader(tempPath, weights, options.probeImages)
    const probeImages = options.probeImages.length / IMAGE_PIXELS
    if (!(maxAbsDifference <= tolerance)) {
      throw new UserError(
        `verification failed: stock tf.loadLayersModel's logits differ from the checkpoint's by ${maxAbsDifference} (tolerance ${tolerance}); nothing published`,
      )
    }
    let onnxVerification: OnnxVerification | undefined
    if (options.onnx ?? true) {
      const onnxModel = encodeOnnxClassifier({weights: weightArraysOf(weights), hidden: hiddenUnitsOf(weights), producerVersion: options.provenance.toolkit_version})
      writeFileDurably(join(tempPath, ONNX_MODEL_FILE), onnxModel)
      files[ONNX_MODEL_FILE] = fileRecordOf(onnxModel)
      onnxVerification = await verifyOnnxModel(onnxModel, weights, options.probeImages, options.onnxTolerance ?? ONNX_VERIFY_TOLERANCE)
    }
    const signature: ExportSignature = {
      format: EXPORT_FORMAT,
      tags: [SERVE_TAG],
      signature_def: {[DEFAULT_SIGNATURE_NAME]: servingDefaultSignature()},
      model: {architecture: 'lstm', hidden_units: hiddenUnitsOf(weights), output: 'logits'},
      provenance: {
        ...options.provenance,
        created_at: new Date().toISOString(),
        verification: {probe_images: probeImages, max_abs_difference: maxAbsDifference, tolerance, ...(onnxVerification && {onnxruntime: onnxVerification})},
      },
      files,
    }
    writeFileDurably(join(tempPath, SIGNATURE_FILE), Buffer.from(`${JSON.stringify(signature, null, 2)}\n`))
    const {sizeBytes} = verifyExportFolder(tempPath)
    syncFolder(tempPath)

    const replaced = publish(tempPath, finalPath, version, exportDir, Boolean(options.force))
    return {version, path: finalPath, files, sizeBytes, maxAbsDifference, probeImages, replaced, signature}
  } catch (error) {
    rmSync(tempPath, {recursive: true, force: true})
    throw error
  }
}

async function verifyOnnxModel(onnxModel: Uint8Array, weights: ClassifierWeights, probeImages: Float32Array, tolerance: number): Promise<OnnxVerification> {
  const {maxAbsDifference, version} = await maxDifferenceFromOnnxRuntime(onnxModel, weights, probeImages)
  if (!(maxAbsDifference <= tolerance)) {
    throw new UserError(`verification failed: ONNX Runtime's logits for model.onnx differ from the checkpoint's by ${maxAbsDifference} (tolerance ${tolerance}); nothing published`)
  }
  return {max_abs_difference: maxAbsDifference, tolerance, version}
}

/** An existing version may only be replaced with force. */
export function checkVersionAvailable(exportDir: string, version: number, force: boolean): void {
  if (!force && existsSync(join(exportDir, String(version)))) throw versionExistsError(version, exportDir)
}

function versionExistsError(version: number, exportDir: string): UserError {
  return new UserError(`version ${version} already exists in ${exportDir} (use --force to replace it)`)
}

function createExportDir(exportDir: string): void {
  try {
    mkdirSync(exportDir, {recursive: true})
  } catch (error) {
    throw new UserError(`cannot create export directory ${exportDir}: ${errorMessage(error)}`)
  }
}

/** The folder the version is written in before it is renamed into place: 0755 with umask 022, like any folder mkdir makes. */
function makeTempFolder(exportDir: string): string {
  try {
    return makeUniqueFolder(join(exportDir, `${TEMP_FOLDER_PREFIX}${process.pid}-`))
  } catch (error) {
    throw new UserError(`cannot write to export directory ${exportDir}: ${fileProblem(error)}`)
  }
}

/** Renames the finished folder into place; returns whether it replaced an existing version. */
function publish(tempPath: string, finalPath: string, version: number, exportDir: string, force: boolean): boolean {
  if (!existsSync(finalPath)) {
    renameInto(tempPath, finalPath, version, exportDir)
    syncFolder(exportDir)
    return false
  }
  if (!force) throw versionExistsError(version, exportDir)
  const retiredPath = join(exportDir, `${RETIRED_FOLDER_PREFIX}${process.pid}-${version}`)
  renameSync(finalPath, retiredPath)
  try {
    renameInto(tempPath, finalPath, version, exportDir)
  } catch (error) {
    renameSync(retiredPath, finalPath)
    throw error
  }
  syncFolder(exportDir)
  rmSync(retiredPath, {recursive: true, force: true})
  return true
}

function renameInto(tempPath: string, finalPath: string, version: number, exportDir: string): void {
  try {
    renameSync(tempPath, finalPath)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // Another export published the same version between our check and our rename.
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw versionExistsError(version, exportDir)
    throw error
  }
}

/** Removes temporary and retired folders whose process has died (interrupted exports). */
function removeAbandonedFolders(exportDir: string): void {
  let names: string[]
  try {
    names = readdirSync(exportDir)
  } catch (error) {
    throw cannotReadError(exportDir, error)
  }
  for (const name of names) {
    const match = new RegExp(`^(?:${escape(TEMP_FOLDER_PREFIX)}|${escape(RETIRED_FOLDER_PREFIX)})(\\d+)-`).exec(name)
    if (match && !isProcessAlive(Number(match[1]))) rmSync(join(exportDir, name), {recursive: true, force: true})
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

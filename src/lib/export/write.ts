import {existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {UserError, errorMessage} from '../core/errors.js'
import {ClassifierWeights, hiddenUnitsOf} from '../model/weights.js'
import {IMAGE_PIXELS} from '../core/image.js'
import {fileRecordOf, syncFolder, writeFileDurably} from '../core/files.js'
import {DEFAULT_SIGNATURE_NAME, EXPORT_FORMAT, ExportProvenance, ExportSignature, MODEL_JSON_FILE, RETIRED_FOLDER_PREFIX, SERVE_TAG, SIGNATURE_FILE, TEMP_FOLDER_PREFIX, WEIGHTS_FILE, servingDefaultSignature} from './format.js'
import {FileRecord} from '../core/files.js'
import {layersModelFiles} from './layers-files.js'
import {verifyExportFolder} from './read.js'
import {VERIFY_TOLERANCE, maxDifferenceFromStockLoader} from './verify.js'
import {nextVersion} from './versions.js'
import {requireInteger} from '../core/validation.js'

/**
 * Test hook: when set to a number of milliseconds, the export pauses that long half-way through
 * writing its files (after model.json, before weights.bin) and says so on stderr, so a test can
 * kill the process mid-write.
 */
export const EXPORT_PAUSE_ENV = 'MNIST_RNN_TEST_EXPORT_PAUSE_MS'
export const EXPORT_PAUSE_MESSAGE = 'export: paused mid-write'

export interface WriteExportOptions {
  weights: ClassifierWeights
  exportDir: string
  /** Default: one more than the highest existing version. */
  version?: number
  /** Replace an existing version (atomically). */
  force?: boolean
  provenance: Omit<ExportProvenance, 'verification' | 'created_at'>
  /** Images [count·784] whose logits the stock loader must reproduce. */
  probeImages: Float32Array
  tolerance?: number
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
    await pauseIfAsked(tempPath)
    writeFileDurably(join(tempPath, WEIGHTS_FILE), weightsBin)

    const maxAbsDifference = await maxDifferenceFromStockLoader(tempPath, weights, options.probeImages)
    const probeImages = options.probeImages.length / IMAGE_PIXELS
    if (!(maxAbsDifference <= tolerance)) {
      throw new UserError(
        `verification failed: stock tf.loadLayersModel's logits differ from the checkpoint's by ${maxAbsDifference} (tolerance ${tolerance}); nothing published`,
      )
    }
    const files = {[MODEL_JSON_FILE]: fileRecordOf(modelJson), [WEIGHTS_FILE]: fileRecordOf(weightsBin)}
    const signature: ExportSignature = {
      format: EXPORT_FORMAT,
      tags: [SERVE_TAG],
      signature_def: {[DEFAULT_SIGNATURE_NAME]: servingDefaultSignature()},
      model: {architecture: 'lstm', hidden_units: hiddenUnitsOf(weights), output: 'logits'},
      provenance: {
        ...options.provenance,
        created_at: new Date().toISOString(),
        verification: {probe_images: probeImages, max_abs_difference: maxAbsDifference, tolerance},
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

function makeTempFolder(exportDir: string): string {
  try {
    return mkdtempSync(join(exportDir, `${TEMP_FOLDER_PREFIX}${process.pid}-`))
  } catch (error) {
    throw new UserError(`cannot write to export directory ${exportDir}: ${errorMessage(error)}`)
  }
}

async function pauseIfAsked(tempPath: string): Promise<void> {
  const pauseMs = Number(process.env[EXPORT_PAUSE_ENV])
  if (!(pauseMs > 0)) return
  process.stderr.write(`${EXPORT_PAUSE_MESSAGE} in ${tempPath}\n`)
  await new Promise((resolve) => setTimeout(resolve, pauseMs))
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
  for (const name of readdirSync(exportDir)) {
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

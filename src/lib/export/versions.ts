import {existsSync, readdirSync, statSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {UserError} from '../core/errors.js'
import {cannotReadError, isFolderReadable} from '../core/files.js'
import {ClassifierWeights} from '../model/weights.js'
import {ExportSignature, TEMP_FOLDER_PREFIX, VersionFormat, versionOfFolderName} from './format.js'
import {folderProblemOf, loadVerifiedWeights, verifyExportFolder} from './read.js'
import {requireDirectory} from '../core/files.js'

/** One version folder of an export directory, checked. */
export interface ExportVersionEntry {
  version: number
  path: string
  valid: boolean
  /** Why the folder is not a usable version (incomplete, checksum mismatch, …). */
  problem?: string
  /** False when this process may not read the folder (its problem is then `cannot read PATH: permission denied`). */
  readable: boolean
  testAccuracy?: number
  step?: number
  checkpoint?: string
  hidden?: number
  sizeBytes: number
  createdAt?: string
  /** The formats a valid version holds (tfjs-layers; onnx for versions exported with model.onnx). */
  formats?: VersionFormat[]
}

/** What eval and serve get: a verified version, its signature, and its weights as tf.Variables (caller disposes). */
export interface ExportedModel {
  version: number
  path: string
  signature: ExportSignature
  hidden: number
  weights: ClassifierWeights
  formats: VersionFormat[]
  /** model.onnx's verified bytes, when the version has it. */
  onnxModel?: Buffer
}

function checkExportDir(exportDir: string): void {
  requireDirectory(exportDir, 'export directory')
}

function readExportDir(exportDir: string) {
  checkExportDir(exportDir)
  try {
    return readdirSync(exportDir, {withFileTypes: true})
  } catch (error) {
    throw cannotReadError(exportDir, error)
  }
}

/** Version numbers of the folders named like a version, ascending (valid or not). */
export function versionFolders(exportDir: string): number[] {
  return readExportDir(exportDir)
    .filter((entry) => entry.isDirectory())
    .map((entry) => versionOfFolderName(entry.name))
    .filter((version): version is number => version !== undefined)
    .sort((a, b) => a - b)
}

/** Every version folder, fully checked (signature, checksums, weights), ascending. */
export function listExportVersions(exportDir: string): ExportVersionEntry[] {
  return versionFolders(exportDir).map((version) => describeVersion(exportDir, version))
}

function describeVersion(exportDir: string, version: number): ExportVersionEntry {
  const path = join(exportDir, String(version))
  try {
    const {signature, sizeBytes, hidden, formats} = verifyExportFolder(path)
    const {provenance} = signature
    return {
      version,
      path,
      valid: true,
      readable: true,
      testAccuracy: provenance.test_accuracy,
      step: provenance.checkpoint?.step,
      checkpoint: provenance.checkpoint?.name,
      hidden,
      sizeBytes,
      createdAt: provenance.created_at,
      formats,
    }
  } catch (error) {
    const problem = folderProblemOf(path, error)
    const readable = isFolderReadable(path)
    return {version, path, valid: false, problem, readable, sizeBytes: readable ? folderSize(path) : 0}
  }
}

function folderSize(folder: string): number {
  let total = 0
  for (const entry of readdirSync(folder, {withFileTypes: true})) {
    const path = join(folder, entry.name)
    total += entry.isDirectory() ? folderSize(path) : statSync(path).size
  }
  return total
}

/**
 * Why an export directory has no valid version, as one line: a version this process may not
 * read (`cannot read exportmodel/2: permission denied`, the usual cause when a server runs as
 * another user than the exporter), else that none is valid.
 */
function noValidVersionError(exportDir: string): UserError {
  const unreadable = listExportVersions(exportDir)
    .reverse()
    .find((entry) => !entry.readable)
  return new UserError(unreadable?.problem ?? `${exportDir}: no valid model version in this export directory`)
}

/** The highest version that passes every check, if any. */
export function latestValidVersion(exportDir: string): number | undefined {
  const versions = versionFolders(exportDir)
  for (let i = versions.length - 1; i >= 0; i--) {
    if (describeVersion(exportDir, versions[i]).valid) return versions[i]
  }
  return undefined
}

/** The next version number: one more than the highest version folder (valid or not), or 1. */
export function nextVersion(exportDir: string): number {
  if (!existsSync(exportDir)) return 1
  const versions = versionFolders(exportDir)
  return versions.length === 0 ? 1 : versions[versions.length - 1] + 1
}

/** Folders left by exports that were interrupted (a server ignores them; they are safe to delete). */
export function unfinishedExports(exportDir: string): string[] {
  return readExportDir(exportDir)
    .map((entry) => entry.name)
    .filter((name) => name.startsWith(TEMP_FOLDER_PREFIX))
}

/**
 * Accepts either a version folder (`exportmodel/2`) or an export directory (`exportmodel`,
 * meaning its highest valid version) and says which export directory and version it names.
 */
export function resolveExportPath(path: string): {exportDir: string; version: number} {
  const trimmed = path.replace(/[/\\]+$/, '') || path
  const version = versionOfFolderName(basename(trimmed))
  if (version !== undefined) {
    const exportDir = dirname(trimmed)
    if (!existsSync(trimmed)) {
      const known = existsSync(exportDir) ? versionFolders(exportDir) : []
      throw new UserError(`${trimmed}: no such version${known.length > 0 ? ` (versions here: ${known.join(', ')})` : ''}`)
    }
    return {exportDir, version}
  }
  const latest = latestValidVersion(trimmed)
  if (latest === undefined) throw noValidVersionError(trimmed)
  return {exportDir: trimmed, version: latest}
}

/** Loads version `version` (default: the highest valid one), verifying its signature and checksums. */
export async function loadExportedModel(exportDir: string, version?: number): Promise<ExportedModel> {
  const chosen = version ?? latestValidVersion(exportDir)
  if (chosen === undefined) throw noValidVersionError(exportDir)
  const path = join(exportDir, String(chosen))
  if (!existsSync(path)) throw new UserError(`${path}: no such version`)
  const verified = verifyExportFolder(path)
  const {signature, hidden, formats, onnxModel} = verified
  return {version: chosen, path, signature, hidden, formats, onnxModel, weights: loadVerifiedWeights(verified)}
}

import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {cannotReadError, isPermissionError} from '../../core/files.js'
import {versionOfFolderName} from '../../export/format.js'

/** A folder of the model directory named like a version (`3`), as found by a scan. */
export interface VersionFolder {
  version: number
  path: string
  /** Names, sizes and times of its files: changes when the folder's contents change. */
  fingerprint: string
}

/**
 * TF Serving's file-system source: the model directory's version folders, highest first.
 * Work in progress (`.tmp-export-…`), retired folders and anything not named by a positive
 * integer are ignored; a folder that vanishes while being scanned is skipped. A folder this
 * process may not read is kept, so that loading it says so (`cannot read …: permission denied`).
 */
export function scanVersionFolders(modelDir: string): VersionFolder[] {
  const folders: VersionFolder[] = []
  let entries
  try {
    entries = readdirSync(modelDir, {withFileTypes: true})
  } catch (error) {
    throw cannotReadError(modelDir, error)
  }
  for (const entry of entries) {
    const version = versionOfFolderName(entry.name)
    if (version === undefined || !entry.isDirectory()) continue
    const path = join(modelDir, entry.name)
    const fingerprint = fingerprintOf(path)
    if (fingerprint !== undefined) folders.push({version, path, fingerprint})
  }
  return folders.sort((a, b) => b.version - a.version)
}

function fingerprintOf(folder: string): string | undefined {
  try {
    return readdirSync(folder)
      .sort()
      .map((name) => {
        const stat = statSync(join(folder, name))
        return `${name}:${stat.size}:${stat.mtimeMs}`
      })
      .join('|')
  } catch (error) {
    if (isPermissionError(error)) return unreadableFingerprintOf(folder)
    return undefined
  }
}

/** An unreadable folder's mode and change time: a chmod or chown that may fix it changes them. */
function unreadableFingerprintOf(folder: string): string | undefined {
  try {
    const stat = statSync(folder)
    return `unreadable:${stat.mode}:${stat.uid}:${stat.gid}:${stat.ctimeMs}`
  } catch {
    return undefined
  }
}

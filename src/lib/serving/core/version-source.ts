import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

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
 * integer are ignored; a folder that vanishes while being scanned is skipped.
 */
export function scanVersionFolders(modelDir: string): VersionFolder[] {
  const folders: VersionFolder[] = []
  for (const entry of readdirSync(modelDir, {withFileTypes: true})) {
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
  } catch {
    return undefined
  }
}

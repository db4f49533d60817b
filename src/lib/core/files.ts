import {createHash, randomBytes} from 'node:crypto'
import {accessSync, closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, statSync, writeSync} from 'node:fs'

import {UserError, errorMessage} from './errors.js'

/** A file's size and sha256, as signature.json records each file of a version. */
export interface FileRecord {
  bytes: number
  sha256: string
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function fileRecordOf(bytes: Uint8Array): FileRecord {
  return {bytes: bytes.byteLength, sha256: sha256Hex(bytes)}
}

/**
 * Writes a file and flushes it to disk, so that a crash after the rename that publishes it cannot
 * leave it empty. writeSync may write fewer bytes than asked: it is called until all are written.
 */
export function writeFileDurably(path: string, contents: Uint8Array | string): void {
  const bytes = typeof contents === 'string' ? Buffer.from(contents, 'utf8') : contents
  const fd = openSync(path, 'w')
  try {
    let written = 0
    while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Flushes a folder's entries (a rename into it, a new file) to disk. */
export function syncFolder(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** True for the errors a file system gives a user who lacks the permission (EACCES, EPERM). */
export function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'EACCES' || code === 'EPERM'
}

/** Why a file operation failed, in a few words: "permission denied", "no such file or folder", … */
export function fileProblem(error: unknown): string {
  if (isPermissionError(error)) return 'permission denied'
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'no such file or folder'
  return errorMessage(error)
}

/** `cannot read PATH: permission denied` (or whatever stopped it), as one line. */
export function cannotReadError(path: string, error: unknown): UserError {
  return new UserError(`cannot read ${path}: ${fileProblem(error)}`)
}

/** Whether this process may list `folder` and open what is in it. */
export function isFolderReadable(folder: string): boolean {
  try {
    accessSync(folder, constants.R_OK | constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Throws `cannot read FOLDER: permission denied` unless this process may list and open `folder`. */
export function checkFolderReadable(folder: string): void {
  try {
    accessSync(folder, constants.R_OK | constants.X_OK)
  } catch (error) {
    throw cannotReadError(folder, error)
  }
}

/**
 * Whether a folder the user named exists; a UserError when something else stands at that path.
 * `label` names it in the message ("checkpoint directory").
 */
export function directoryExists(path: string, label: string): boolean {
  if (!existsSync(path)) return false
  if (!statSync(path).isDirectory()) throw new UserError(`${label} ${path} is a file, not a directory`)
  return true
}

/** Like directoryExists, but a missing folder is an error too (`hint` follows its message). */
export function requireDirectory(path: string, label: string, hint = ''): void {
  if (!directoryExists(path, label)) throw new UserError(`${label} ${path} does not exist${hint}`)
}

/**
 * Creates a new folder whose path starts with `prefix`, like mkdtemp, but with mkdir's
 * permissions (0777 less the umask: 0755 usually) instead of mkdtemp's 0700: a folder that is
 * written privately and then renamed into place (an export version, a checkpoint) must end up as
 * readable as any folder its owner creates, for servers running as other users (in a container).
 */
export function makeUniqueFolder(prefix: string): string {
  for (;;) {
    const path = `${prefix}${randomBytes(6).toString('hex')}`
    try {
      mkdirSync(path)
      return path
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

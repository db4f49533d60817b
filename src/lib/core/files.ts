import {createHash} from 'node:crypto'
import {closeSync, existsSync, fsyncSync, openSync, statSync, writeSync} from 'node:fs'

import {UserError} from './errors.js'

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

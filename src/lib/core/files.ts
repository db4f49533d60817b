import {createHash} from 'node:crypto'


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

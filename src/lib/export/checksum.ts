import {createHash} from 'node:crypto'

import {FileRecord} from './format.js'

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function fileRecordOf(bytes: Uint8Array): FileRecord {
  return {bytes: bytes.byteLength, sha256: sha256Hex(bytes)}
}

import {readFileSync} from 'node:fs'
import {basename} from 'node:path'
import {gunzipSync} from 'node:zlib'

import {UserError, errorMessage} from '../core/errors.js'

/** IDX type code for unsigned bytes, the only element type MNIST uses. */
const IDX_UBYTE = 0x08
const GZIP_MAGIC = [0x1f, 0x8b]

export interface IdxArray {
  dims: number[]
  data: Uint8Array
}

/**
 * Parses an IDX buffer (magic 0x00 0x00 type rank, then rank big-endian uint32 sizes, then data).
 * `name` only labels errors. `expectedRank`, when given, is checked too.
 */
export function parseIdx(buffer: Uint8Array, name: string, expectedRank?: number): IdxArray {
  const fail = (what: string): never => {
    throw new UserError(`${name}: ${what}`)
  }
  if (buffer.length < 4) fail(`not an IDX file: only ${buffer.length} bytes`)
  if (buffer[0] !== 0 || buffer[1] !== 0) {
    fail(`not an IDX file: bad magic number 0x${hex(buffer.subarray(0, 4))}`)
  }
  if (buffer[2] !== IDX_UBYTE) fail(`unsupported IDX element type 0x${buffer[2].toString(16)} (only unsigned bytes, 0x08)`)
  const rank = buffer[3]
  if (rank === 0) fail('IDX rank is 0')
  if (expectedRank !== undefined && rank !== expectedRank) fail(`expected an IDX array of rank ${expectedRank}, found rank ${rank}`)
  const headerLength = 4 + 4 * rank
  if (buffer.length < headerLength) fail(`truncated IDX header (${buffer.length} of ${headerLength} bytes)`)
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  const dims: number[] = []
  for (let axis = 0; axis < rank; axis++) dims.push(view.getUint32(4 + 4 * axis, false))
  const expectedLength = dims.reduce((a, b) => a * b, 1)
  const actualLength = buffer.length - headerLength
  if (actualLength < expectedLength) {
    fail(`truncated: header promises ${dims.join('×')} = ${expectedLength} bytes of data, file has ${actualLength}`)
  }
  if (actualLength > expectedLength) {
    fail(`${actualLength - expectedLength} unexpected bytes after the ${dims.join('×')} data`)
  }
  return {dims, data: buffer.subarray(headerLength)}
}

/** Reads an IDX file, gunzipping it when it is gzip-compressed (by content, whatever its name). */
export function readIdxFile(path: string, expectedRank?: number): IdxArray {
  let raw: Uint8Array
  try {
    raw = readFileSync(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new UserError(code === 'ENOENT' ? `${path}: no such file` : `${path}: ${errorMessage(error)}`)
  }
  if (raw[0] === GZIP_MAGIC[0] && raw[1] === GZIP_MAGIC[1]) {
    try {
      raw = gunzipSync(raw)
    } catch (error) {
      throw new UserError(`${path}: corrupt gzip data (${errorMessage(error)})`)
    }
  }
  return parseIdx(raw, basename(path) === path ? path : path, expectedRank)
}

/** Encodes an unsigned-byte IDX array: what tests use to write their own files. */
export function encodeIdx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length)
  header[2] = IDX_UBYTE
  header[3] = dims.length
  dims.forEach((size, axis) => header.writeUInt32BE(size, 4 + 4 * axis))
  return Buffer.concat([header, data])
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

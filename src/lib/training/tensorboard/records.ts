import {crc32c} from '@aws-crypto/crc32c'

/** TFRecord's mask, so that a CRC of data that itself holds CRCs stays well distributed. */
const CRC_MASK_DELTA = 0xa282ead8
const LENGTH_BYTES = 8
const CRC_BYTES = 4

/** ((crc >>> 15) | (crc << 17)) + 0xa282ead8, as a uint32 (TensorFlow's crc32c::Mask). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data)
  return (((crc >>> 15) | (crc << 17)) + CRC_MASK_DELTA) >>> 0
}

/**
 * One TFRecord: uint64 length (little-endian), masked CRC32C of those 8 bytes, the data,
 * masked CRC32C of the data. Event files are a sequence of these, one serialized Event each.
 */
export function tfRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(LENGTH_BYTES + CRC_BYTES + data.length + CRC_BYTES)
  record.writeBigUInt64LE(BigInt(data.length), 0)
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, LENGTH_BYTES)), LENGTH_BYTES)
  record.set(data, LENGTH_BYTES + CRC_BYTES)
  record.writeUInt32LE(maskedCrc32c(data), LENGTH_BYTES + CRC_BYTES + data.length)
  return record
}

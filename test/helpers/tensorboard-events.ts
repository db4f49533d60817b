/**
 * An independent reader of TensorBoard event files for the tests: TFRecord framing with both CRCs
 * checked by a CRC32C computed here (a 256-entry table, Castagnoli polynomial), and each protobuf
 * field of Event, Summary, Summary.Value, Summary.Image, HistogramProto and SessionLog decoded by
 * hand from the wire format (field numbers from TensorFlow's event.proto, summary.proto and
 * histogram.proto), without protobufjs or the code under test.
 */

const CASTAGNOLI_REVERSED = 0x82f63b78
const CRC_TABLE = Array.from({length: 256}, (_, byte) => {
  let crc = byte
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ CASTAGNOLI_REVERSED : crc >>> 1
  return crc >>> 0
})

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

export function maskedCrc(bytes: Uint8Array): number {
  const crc = crc32c(bytes)
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0
}

/** The data of each TFRecord; throws on a bad length CRC, a bad data CRC or a truncated record. */
export function readRecords(file: Buffer): Buffer[] {
  const records: Buffer[] = []
  let offset = 0
  while (offset < file.length) {
    if (offset + 12 > file.length) throw new Error(`truncated record header at byte ${offset}`)
    const header = file.subarray(offset, offset + 8)
    if (file.readUInt32LE(offset + 8) !== maskedCrc(header)) throw new Error(`bad length CRC at byte ${offset}`)
    const length = Number(file.readBigUInt64LE(offset))
    const dataStart = offset + 12
    if (dataStart + length + 4 > file.length) throw new Error(`truncated record at byte ${offset}`)
    const data = file.subarray(dataStart, dataStart + length)
    if (file.readUInt32LE(dataStart + length) !== maskedCrc(data)) throw new Error(`bad data CRC at byte ${offset}`)
    records.push(data)
    offset = dataStart + length + 4
  }
  return records
}

type WireValue = {wireType: 0; value: bigint} | {wireType: 1; value: Buffer} | {wireType: 2; value: Buffer} | {wireType: 5; value: Buffer}

function readVarint(bytes: Buffer, start: number): {value: bigint; next: number} {
  let value = 0n
  let shift = 0n
  for (let offset = start; offset < bytes.length; offset++) {
    value |= BigInt(bytes[offset] & 0x7f) << shift
    if ((bytes[offset] & 0x80) === 0) return {value, next: offset + 1}
    shift += 7n
  }
  throw new Error('truncated varint')
}

/** Every field of a message by number, in order; unknown wire types throw. */
export function decodeFields(bytes: Buffer): Map<number, WireValue[]> {
  const fields = new Map<number, WireValue[]>()
  let offset = 0
  while (offset < bytes.length) {
    const key = readVarint(bytes, offset)
    offset = key.next
    const field = Number(key.value >> 3n)
    const wireType = Number(key.value & 7n)
    let entry: WireValue
    if (wireType === 0) {
      const varint = readVarint(bytes, offset)
      entry = {wireType, value: varint.value}
      offset = varint.next
    } else if (wireType === 1) {
      entry = {wireType, value: bytes.subarray(offset, offset + 8)}
      offset += 8
    } else if (wireType === 2) {
      const length = readVarint(bytes, offset)
      entry = {wireType, value: bytes.subarray(length.next, length.next + Number(length.value))}
      offset = length.next + Number(length.value)
    } else if (wireType === 5) {
      entry = {wireType, value: bytes.subarray(offset, offset + 4)}
      offset += 4
    } else {
      throw new Error(`wire type ${wireType} in field ${field}`)
    }
    if (offset > bytes.length) throw new Error(`field ${field} runs past the end`)
    fields.set(field, [...(fields.get(field) ?? []), entry])
  }
  return fields
}

function single(fields: Map<number, WireValue[]>, field: number, wireType: number): WireValue | undefined {
  const values = fields.get(field)
  if (!values) return undefined
  const last = values.at(-1)!
  if (last.wireType !== wireType) throw new Error(`field ${field} has wire type ${last.wireType}, expected ${wireType}`)
  return last
}

const double = (fields: Map<number, WireValue[]>, field: number) => {
  const entry = single(fields, field, 1)
  return entry ? (entry.value as Buffer).readDoubleLE(0) : 0
}
const varint = (fields: Map<number, WireValue[]>, field: number) => {
  const entry = single(fields, field, 0)
  return entry ? Number(entry.value as bigint) : 0
}
const bytesOf = (fields: Map<number, WireValue[]>, field: number) => single(fields, field, 2)?.value as Buffer | undefined

/** repeated double, packed (wire type 2) or not (wire type 1). */
function doubles(fields: Map<number, WireValue[]>, field: number): number[] {
  const values: number[] = []
  for (const entry of fields.get(field) ?? []) {
    const buffer = entry.value as Buffer
    if (entry.wireType === 1) values.push(buffer.readDoubleLE(0))
    else if (entry.wireType === 2) for (let offset = 0; offset < buffer.length; offset += 8) values.push(buffer.readDoubleLE(offset))
    else throw new Error(`repeated double field ${field} has wire type ${entry.wireType}`)
  }
  return values
}

export interface DecodedHistogram {
  min: number
  max: number
  num: number
  sum: number
  sumSquares: number
  bucketLimit: number[]
  bucket: number[]
}

export interface DecodedImage {
  height: number
  width: number
  colorspace: number
  png: Buffer
}

export interface DecodedValue {
  tag: string
  simpleValue?: number
  histogram?: DecodedHistogram
  image?: DecodedImage
}

export interface DecodedEvent {
  wallTime: number
  step: number
  fileVersion?: string
  values?: DecodedValue[]
  sessionStatus?: number
}

/** tensorboard.Event: wall_time 1 (double), step 2 (int64), file_version 3, summary 5, session_log 7. */
export function decodeEvent(bytes: Buffer): DecodedEvent {
  const fields = decodeFields(bytes)
  const event: DecodedEvent = {wallTime: double(fields, 1), step: varint(fields, 2)}
  const fileVersion = bytesOf(fields, 3)
  if (fileVersion) event.fileVersion = fileVersion.toString('utf8')
  const summary = bytesOf(fields, 5)
  if (summary) event.values = (decodeFields(summary).get(1) ?? []).map((entry) => decodeValue(entry.value as Buffer))
  const sessionLog = bytesOf(fields, 7)
  if (sessionLog) event.sessionStatus = varint(decodeFields(sessionLog), 1)
  return event
}

/** Summary.Value: tag 1, simple_value 2 (float), image 4, histo 5. */
function decodeValue(bytes: Buffer): DecodedValue {
  const fields = decodeFields(bytes)
  const value: DecodedValue = {tag: bytesOf(fields, 1)?.toString('utf8') ?? ''}
  const simple = single(fields, 2, 5)
  if (simple) value.simpleValue = (simple.value as Buffer).readFloatLE(0)
  const image = bytesOf(fields, 4)
  if (image) {
    const imageFields = decodeFields(image)
    value.image = {
      height: varint(imageFields, 1),
      width: varint(imageFields, 2),
      colorspace: varint(imageFields, 3),
      png: bytesOf(imageFields, 4) ?? Buffer.alloc(0),
    }
  }
  const histogram = bytesOf(fields, 5)
  if (histogram) {
    const h = decodeFields(histogram)
    value.histogram = {
      min: double(h, 1),
      max: double(h, 2),
      num: double(h, 3),
      sum: double(h, 4),
      sumSquares: double(h, 5),
      bucketLimit: doubles(h, 6),
      bucket: doubles(h, 7),
    }
  }
  return value
}

/** Every event of a file, CRCs checked. */
export function readEventFile(file: Buffer): DecodedEvent[] {
  return readRecords(file).map(decodeEvent)
}

import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {encodeIdx, readIdxFile} from '../../src/lib/data/idx.js'
import {UserError} from '../../src/lib/core/errors.js'
import {makeTempDir} from '../helpers/cli.js'

describe('IDX files', () => {
  let temp: ReturnType<typeof makeTempDir>
  beforeEach(() => {
    temp = makeTempDir()
  })
  afterEach(() => temp.cleanup())

  const images = Uint8Array.from({length: 2 * 3 * 4}, (_, i) => i * 10)

  it('round-trips a plain file: dims and bytes', () => {
    const path = join(temp.dir, 'images-idx3-ubyte')
    writeFileSync(path, encodeIdx([2, 3, 4], images))
    const read = readIdxFile(path, 3)
    expect(read.dims).toEqual([2, 3, 4])
    expect(Array.from(read.data)).toEqual(Array.from(images))
  })

  it('round-trips a gzip-compressed file', () => {
    const path = join(temp.dir, 'labels-idx1-ubyte.gz')
    const labels = Uint8Array.from([3, 1, 4, 1, 5, 9, 2, 6])
    writeFileSync(path, gzipSync(encodeIdx([8], labels)))
    const read = readIdxFile(path, 1)
    expect(read.dims).toEqual([8])
    expect(Array.from(read.data)).toEqual([3, 1, 4, 1, 5, 9, 2, 6])
  })

  it('rejects a truncated file, naming the file and the missing bytes', () => {
    const path = join(temp.dir, 'short-idx3-ubyte')
    writeFileSync(path, encodeIdx([2, 3, 4], images).subarray(0, 30))
    expect(() => readIdxFile(path)).toThrow(UserError)
    expect(() => readIdxFile(path)).toThrow(/short-idx3-ubyte: truncated: header promises 2×3×4 = 24 bytes of data, file has 14/)
  })

  it('rejects a wrong magic number', () => {
    const path = join(temp.dir, 'bad-magic')
    const bytes = encodeIdx([2, 3, 4], images)
    bytes[0] = 0x12
    writeFileSync(path, bytes)
    expect(() => readIdxFile(path)).toThrow(/bad-magic: not an IDX file: bad magic number 0x12000803/)
  })

  it('rejects a wrong rank, trailing bytes, corrupt gzip and a missing file', () => {
    const rankPath = join(temp.dir, 'rank')
    writeFileSync(rankPath, encodeIdx([24], images))
    expect(() => readIdxFile(rankPath, 3)).toThrow(/expected an IDX array of rank 3, found rank 1/)

    const longPath = join(temp.dir, 'long')
    writeFileSync(longPath, Buffer.concat([encodeIdx([2, 3, 4], images), Buffer.from([1, 2])]))
    expect(() => readIdxFile(longPath)).toThrow(/2 unexpected bytes/)

    const gzPath = join(temp.dir, 'broken.gz')
    writeFileSync(gzPath, gzipSync(encodeIdx([2, 3, 4], images)).subarray(0, 20))
    expect(() => readIdxFile(gzPath)).toThrow(/corrupt gzip data/)

    expect(() => readIdxFile(join(temp.dir, 'absent'))).toThrow(/absent: no such file/)
  })
})

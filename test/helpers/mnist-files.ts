import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'

import {encodeIdx} from '../../src/lib/data/idx.js'
import {MNIST_FILE_NAMES} from '../../src/lib/data/mnist.js'

/**
 * Writes a tiny MNIST-shaped data directory (the four standard IDX files) whose images are
 * simple, learnable patterns: image i of label d has a bright horizontal bar at row 2 + 2·d.
 */
export function writeTinyMnist(dir: string, counts = {train: 200, test: 50}, options: {gzip?: boolean} = {}): void {
  for (const split of ['train', 'test'] as const) {
    const count = counts[split]
    const images = new Uint8Array(count * 784)
    const labels = new Uint8Array(count)
    for (let i = 0; i < count; i++) {
      const digit = i % 10
      labels[i] = digit
      const row = 2 + 2 * digit
      for (let col = 4; col < 24; col++) images[i * 784 + row * 28 + col] = 200 + ((i * 7) % 56)
    }
    const write = (name: string, bytes: Buffer) =>
      writeFileSync(join(dir, options.gzip ? `${name}.gz` : name), options.gzip ? gzipSync(bytes) : bytes)
    write(MNIST_FILE_NAMES[split].images, encodeIdx([count, 28, 28], images))
    write(MNIST_FILE_NAMES[split].labels, encodeIdx([count], labels))
  }
}

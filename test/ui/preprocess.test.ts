import {describe, expect, it} from 'vitest'

import {loadMnistSplit} from '../../src/lib/data/mnist.js'
import {MNIST_BOX, MNIST_SIDE, centreOfMass, inkBoundingBox, mnistInputFromInk} from '../../src/ui/preprocess.js'

const PAD = 400
const SCALE_UP = 10
const ROUND_TRIP_IMAGES = 300

/** A blank PAD×PAD drawing with the rectangles given filled with full ink. */
function drawing(...rects: {left: number; top: number; width: number; height: number}[]): Float32Array {
  const ink = new Float32Array(PAD * PAD)
  for (const {left, top, width, height} of rects) {
    for (let y = top; y < top + height; y++) ink.fill(1, y * PAD + left, y * PAD + left + width)
  }
  return ink
}

/** A 28×28 image drawn SCALE_UP times larger, each pixel a block, with its top left at (left, top). */
function scaledUp(image: Float32Array, left: number, top: number): Float32Array {
  const ink = new Float32Array(PAD * PAD)
  for (let y = 0; y < MNIST_SIDE * SCALE_UP; y++) {
    for (let x = 0; x < MNIST_SIDE * SCALE_UP; x++) {
      ink[(top + y) * PAD + left + x] = image[Math.floor(y / SCALE_UP) * MNIST_SIDE + Math.floor(x / SCALE_UP)]
    }
  }
  return ink
}

describe('the drawing page turns a drawing into the model input as MNIST was made', () => {
  it('gives nothing for a blank pad', () => {
    expect(mnistInputFromInk(new Float32Array(PAD * PAD), PAD, PAD)).toBeNull()
  })

  it('scales the longer side of the ink to 20 px keeping the aspect ratio, and centres it by its centre of mass', () => {
    // A stroke like a "1": 20 wide, 200 tall, far from the centre of the pad.
    const one = mnistInputFromInk(drawing({left: 30, top: 150, width: 20, height: 200}), PAD, PAD)!
    expect(inkBoundingBox(one, MNIST_SIDE, MNIST_SIDE)).toEqual({left: 14, top: 5, width: 2, height: MNIST_BOX})
    expect(Array.from(one).filter((value) => value > 0)).toEqual(Array(2 * MNIST_BOX).fill(1))
    // Its centre of mass (0.5, 9.5) moves by whole pixels to within half a pixel of (14, 14).
    expect(centreOfMass(one)).toEqual({x: 14.5, y: 14.5})

    // A wide bar: 300 × 150 becomes 20 × 10.
    const bar = mnistInputFromInk(drawing({left: 50, top: 20, width: 300, height: 150}), PAD, PAD)!
    expect(inkBoundingBox(bar, MNIST_SIDE, MNIST_SIDE)).toMatchObject({width: MNIST_BOX, height: MNIST_BOX / 2})
  })

  it('moves the centre of mass, not the box, to the centre: an "L" sits off the middle of its box', () => {
    const ell = mnistInputFromInk(drawing({left: 100, top: 100, width: 40, height: 200}, {left: 100, top: 260, width: 200, height: 40}), PAD, PAD)!
    const centre = centreOfMass(ell)!
    expect(Math.abs(centre.x - MNIST_SIDE / 2)).toBeLessThanOrEqual(0.5)
    expect(Math.abs(centre.y - MNIST_SIDE / 2)).toBeLessThanOrEqual(0.5)
    const box = inkBoundingBox(ell, MNIST_SIDE, MNIST_SIDE)!
    expect(box.left + box.width / 2).not.toBe(MNIST_SIDE / 2)
  })

  it('anti-aliases: ink that does not fill a pixel of the 28×28 image gives a grey level in (0, 1)', () => {
    // 33 px wide and 200 tall: scaled by 0.1, 3.3 px wide, so one column is 30% ink.
    const stroke = mnistInputFromInk(drawing({left: 0, top: 0, width: 33, height: 200}), PAD, PAD)!
    const levels = new Set(Array.from(stroke).filter((value) => value > 0).map((value) => value.toFixed(3)))
    expect([...levels].sort()).toEqual(['0.300', '1.000'])
    expect(Math.max(...stroke)).toBe(1)
    expect(Math.min(...stroke)).toBe(0)
  })

  it(`gives back each of the first ${ROUND_TRIP_IMAGES} MNIST test digits drawn ten times larger anywhere on the pad`, () => {
    const {images} = loadMnistSplit('test', undefined, ROUND_TRIP_IMAGES)
    for (let i = 0; i < ROUND_TRIP_IMAGES; i++) {
      const image = images.subarray(i * 784, (i + 1) * 784)
      const darkest = Math.max(...image)
      const offset = (i * 37) % (PAD - MNIST_SIDE * SCALE_UP)
      const input = mnistInputFromInk(scaledUp(image, offset, PAD - MNIST_SIDE * SCALE_UP - offset), PAD, PAD)!
      // MNIST's darkest pixel is 254 or 255 of 255; the page's is 1.
      const differences = Array.from(input, (value, k) => Math.abs(value - image[k] / darkest))
      expect(Math.max(...differences), `test image ${i}`).toBeLessThan(1e-6)
    }
  })
})

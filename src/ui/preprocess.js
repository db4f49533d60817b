// @ts-check
/**
 * A drawing made into the input the model was trained on, the way MNIST itself was made
 * (LeCun, Cortes & Burges, "The MNIST database"): the ink is cropped to its bounding box, scaled
 * so that its longer side is 20 px (aspect ratio kept; area averaging gives anti-aliased grey
 * levels), and placed in a 28×28 field so that its centre of mass sits at the centre.
 *
 * Pure functions with no DOM access: the page and the unit tests run the same code.
 */

/** Side of the model's input image. */
export const MNIST_SIDE = 28
/** Side of the box the longer side of the ink is scaled to. */
export const MNIST_BOX = 20
/** Room for float error when a scaled side is a whole number of pixels. */
const EPSILON = 1e-9

/**
 * @typedef {{left: number, top: number, width: number, height: number}} Box
 * @typedef {ArrayLike<number>} Plane  row-major values, one per pixel
 */

/**
 * The smallest box holding every pixel whose ink is above zero, or null for a blank image.
 * @param {Plane} ink
 * @param {number} width
 * @param {number} height
 * @returns {Box | null}
 */
export function inkBoundingBox(ink, width, height) {
  let left = width
  let right = -1
  let top = height
  let bottom = -1
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0) {
        if (x < left) left = x
        if (x > right) right = x
        if (y < top) top = y
        if (y > bottom) bottom = y
      }
    }
  }
  return right < 0 ? null : {left, top, width: right - left + 1, height: bottom - top + 1}
}

/**
 * How much of each source pixel [0, sourceSize) falls into each target pixel when the source
 * is stretched by `scale`, divided by the target pixel's footprint (so a target pixel wholly
 * inside ink of value v gets v): `weights[target][k]` applies to source pixel `first[target] + k`.
 * @param {number} sourceSize
 * @param {number} targetSize
 * @param {number} scale
 */
function areaWeights(sourceSize, targetSize, scale) {
  /** @type {number[]} */
  const first = []
  /** @type {number[][]} */
  const weights = []
  for (let t = 0; t < targetSize; t++) {
    const start = t / scale
    const end = Math.min((t + 1) / scale, sourceSize)
    const from = Math.floor(start)
    /** @type {number[]} */
    const row = []
    for (let s = from; s < end; s++) row.push((Math.min(end, s + 1) - Math.max(start, s)) * scale)
    first.push(from)
    weights.push(row)
  }
  return {first, weights}
}

/**
 * Area-averaging resample of `box` of the plane to `targetWidth`×`targetHeight`, every source
 * pixel scaled by `scale` in both directions (separable: columns first, then rows).
 * @param {Plane} ink
 * @param {number} width
 * @param {Box} box
 * @param {number} scale
 * @param {number} targetWidth
 * @param {number} targetHeight
 */
function resampleBox(ink, width, box, scale, targetWidth, targetHeight) {
  const columns = areaWeights(box.width, targetWidth, scale)
  const rows = areaWeights(box.height, targetHeight, scale)
  const narrowed = new Float64Array(box.height * targetWidth)
  for (let y = 0; y < box.height; y++) {
    const offset = (box.top + y) * width + box.left
    for (let t = 0; t < targetWidth; t++) {
      const weights = columns.weights[t]
      let sum = 0
      for (let k = 0; k < weights.length; k++) sum += weights[k] * ink[offset + columns.first[t] + k]
      narrowed[y * targetWidth + t] = sum
    }
  }
  const scaled = new Float64Array(targetHeight * targetWidth)
  for (let t = 0; t < targetHeight; t++) {
    const weights = rows.weights[t]
    for (let x = 0; x < targetWidth; x++) {
      let sum = 0
      for (let k = 0; k < weights.length; k++) sum += weights[k] * narrowed[(rows.first[t] + k) * targetWidth + x]
      scaled[t * targetWidth + x] = sum
    }
  }
  return scaled
}

/**
 * Where a `size`-long strip whose centre of mass is at pixel index `centre` goes in the 28-pixel
 * field so that the centre of mass lands on index 14, as in MNIST (whose digits have it within
 * half a pixel of (14, 14)): a whole-pixel shift, kept inside the field.
 * @param {number} centre
 * @param {number} size
 */
function placement(centre, size) {
  const offset = Math.round(MNIST_SIDE / 2 - centre)
  return Math.max(0, Math.min(MNIST_SIDE - size, offset))
}

/**
 * The model's 28×28 input for a drawing: `ink` holds `width`×`height` values, 0 for paper and
 * more for ink, on any scale (a canvas's alpha channel, 0–255, will do). Returns 784 grey levels
 * in [0, 1], row-major, the darkest pixel at 1 as in MNIST — or null when nothing is drawn.
 * @param {Plane} ink
 * @param {number} width
 * @param {number} height
 * @returns {Float32Array | null}
 */
export function mnistInputFromInk(ink, width, height) {
  const box = inkBoundingBox(ink, width, height)
  if (!box) return null
  const scale = MNIST_BOX / Math.max(box.width, box.height)
  const targetWidth = Math.max(1, Math.ceil(box.width * scale - EPSILON))
  const targetHeight = Math.max(1, Math.ceil(box.height * scale - EPSILON))
  const scaled = resampleBox(ink, width, box, scale, targetWidth, targetHeight)

  const centre = /** @type {{x: number, y: number}} */ (centreOfMass(scaled, targetWidth, targetHeight))
  const left = placement(centre.x, targetWidth)
  const top = placement(centre.y, targetHeight)
  const darkest = scaled.reduce((most, value) => Math.max(most, value), 0)
  const input = new Float32Array(MNIST_SIDE * MNIST_SIDE)
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) {
      input[(top + y) * MNIST_SIDE + left + x] = Math.min(1, scaled[y * targetWidth + x] / darkest)
    }
  }
  return input
}

/**
 * The centre of mass (column, row) of an image in pixel indices; null for a blank one.
 * MNIST's digits have it within half a pixel of (14, 14).
 * @param {Plane} image
 * @param {number} [width]
 * @param {number} [height]
 * @returns {{x: number, y: number} | null}
 */
export function centreOfMass(image, width = MNIST_SIDE, height = MNIST_SIDE) {
  let mass = 0
  let x = 0
  let y = 0
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const value = image[row * width + col]
      mass += value
      x += value * col
      y += value * row
    }
  }
  return mass > 0 ? {x: x / mass, y: y / mass} : null
}

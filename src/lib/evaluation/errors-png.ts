import {writeFileSync} from 'node:fs'
import {PNG} from 'pngjs'

import {UserError, errorMessage} from '../core/errors.js'
import {IMAGE_COLS, IMAGE_ROWS} from '../core/image.js'
import {GLYPH_HEIGHT, glyphOf, glyphWidth} from './bitmap-font.js'
import {Misclassified} from './evaluator.js'

/** Layout of the error grid: each cell is the digit enlarged, with "true → predicted" under it. */
export const GRID_COLUMNS = 10
export const DIGIT_SCALE = 2
export const FONT_SCALE = 3
export const CELL_PADDING = 4
const GLYPH_GAP = 2
export const CELL_WIDTH = CELL_PADDING + IMAGE_COLS * DIGIT_SCALE + CELL_PADDING
export const CELL_HEIGHT = CELL_PADDING + IMAGE_ROWS * DIGIT_SCALE + CELL_PADDING + GLYPH_HEIGHT * FONT_SCALE + CELL_PADDING

type Rgb = readonly [number, number, number]
const BACKGROUND: Rgb = [40, 40, 48]
const TRUE_LABEL_COLOUR: Rgb = [80, 220, 100]
const ARROW_COLOUR: Rgb = [180, 180, 180]
const PREDICTED_LABEL_COLOUR: Rgb = [250, 80, 80]
const MAX_CHANNEL = 255

export function errorGridSize(count: number): {width: number; height: number; columns: number; rows: number} {
  const columns = Math.max(1, Math.min(GRID_COLUMNS, count))
  const rows = Math.max(1, Math.ceil(count / GRID_COLUMNS))
  return {width: columns * CELL_WIDTH, height: rows * CELL_HEIGHT, columns, rows}
}

/**
 * A PNG grid of misclassified digits (white on black, as MNIST stores them), each captioned with
 * its true label in green, an arrow, and the predicted label in red.
 */
export function errorGridPng(errors: Misclassified[]): Buffer {
  const {width, height} = errorGridSize(errors.length)
  const png = new PNG({width, height})
  const setPixel = (x: number, y: number, [r, g, b]: Rgb): void => {
    const offset = (y * width + x) * 4
    png.data[offset] = r
    png.data[offset + 1] = g
    png.data[offset + 2] = b
    png.data[offset + 3] = MAX_CHANNEL
  }
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) setPixel(x, y, BACKGROUND)

  errors.forEach((error, position) => {
    const left = (position % GRID_COLUMNS) * CELL_WIDTH + CELL_PADDING
    const top = Math.floor(position / GRID_COLUMNS) * CELL_HEIGHT + CELL_PADDING
    for (let row = 0; row < IMAGE_ROWS * DIGIT_SCALE; row++) {
      for (let col = 0; col < IMAGE_COLS * DIGIT_SCALE; col++) {
        const level = Math.round(error.image[Math.floor(row / DIGIT_SCALE) * IMAGE_COLS + Math.floor(col / DIGIT_SCALE)] * MAX_CHANNEL)
        setPixel(left + col, top + row, [level, level, level])
      }
    }
    let x = left
    const captionTop = top + IMAGE_ROWS * DIGIT_SCALE + CELL_PADDING
    for (const [text, colour] of [
      [String(error.label), TRUE_LABEL_COLOUR],
      ['→', ARROW_COLOUR],
      [String(error.predicted), PREDICTED_LABEL_COLOUR],
    ] as const) {
      drawGlyph(text, x, captionTop, colour, setPixel)
      x += (glyphWidth(text) + GLYPH_GAP) * FONT_SCALE
    }
  })
  return PNG.sync.write(png)
}

function drawGlyph(character: string, left: number, top: number, colour: Rgb, setPixel: (x: number, y: number, colour: Rgb) => void): void {
  glyphOf(character).forEach((line, row) => {
    for (let col = 0; col < line.length; col++) {
      if (line[col] !== '#') continue
      for (let dy = 0; dy < FONT_SCALE; dy++) {
        for (let dx = 0; dx < FONT_SCALE; dx++) setPixel(left + col * FONT_SCALE + dx, top + row * FONT_SCALE + dy, colour)
      }
    }
  })
}

export function writeErrorGrid(path: string, errors: Misclassified[]): {width: number; height: number} {
  try {
    writeFileSync(path, errorGridPng(errors))
  } catch (error) {
    throw new UserError(`cannot write ${path}: ${errorMessage(error)}`)
  }
  const {width, height} = errorGridSize(errors.length)
  return {width, height}
}

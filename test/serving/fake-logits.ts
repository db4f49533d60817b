/** Images and logits that say where they came from, for tests of the batching and worker plumbing. */
const PIXELS = 784
const CLASSES = 10

/** One image per id, every pixel equal to its id, so a result row can say which image it came from. */
export function imagesWithIds(ids: number[]): Float32Array {
  const images = new Float32Array(ids.length * PIXELS)
  ids.forEach((id, i) => images.fill(id, i * PIXELS, (i + 1) * PIXELS))
  return images
}

/** A fake forward pass: logit k of an image is its id · 10 + k, plus the version · 1000. */
export function fakeLogits(version: number, images: Float32Array, count: number): Float32Array {
  const logits = new Float32Array(count * CLASSES)
  for (let i = 0; i < count; i++) for (let k = 0; k < CLASSES; k++) logits[i * CLASSES + k] = version * 1000 + images[i * PIXELS] * 10 + k
  return logits
}

/** The image ids behind fake logits, in row order. */
export function idsOf(logits: Float32Array): number[] {
  const ids: number[] = []
  for (let i = 0; i < logits.length / CLASSES; i++) ids.push((logits[i * CLASSES] % 1000) / 10)
  return ids
}

/** The version behind fake logits. */
export function versionOfLogits(logits: Float32Array): number {
  return Math.floor(logits[0] / 1000)
}

/**
 * A small seeded PRNG (mulberry32) whose whole state is one 32-bit number, so that a checkpoint
 * can store the data order exactly.
 */
export class SeededRandom {
  constructor(public state: number) {
    this.state = state >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n)
  }
}

/** A Fisher–Yates permutation of 0..n-1. */
export function shuffledIndices(n: number, random: SeededRandom): Uint32Array {
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = random.nextInt(i + 1)
    const swap = order[i]
    order[i] = order[j]
    order[j] = swap
  }
  return order
}

/** The order of examples in a given epoch: a function of seed and epoch only, so resuming needs no saved state. */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  return shuffledIndices(n, new SeededRandom(mixSeed(seed, epoch)))
}

function mixSeed(seed: number, epoch: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0
}

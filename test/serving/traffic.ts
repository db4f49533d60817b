import {expect} from 'vitest'

import {imageRows, mnistTestImages, referenceLogits} from './serving-fixtures.js'

/** Real-HTTP helpers for the serving end-to-end tests: which version answered, steady traffic, status. */
export const IMAGES = 16
const TOLERANCE = 1e-5
const CLIENTS = 4
const WAIT_LIMIT_MS = 60_000

/** Each version's model is made from its own seed, so an answer tells which version gave it. */
export const SEEDS: Record<number, number> = {1: 11, 2: 22, 3: 33, 4: 44}

export const {images} = mnistTestImages(IMAGES)
const referenceBySeed = new Map<number, Float32Array>()

function referenceOf(seed: number): Float32Array {
  if (!referenceBySeed.has(seed)) referenceBySeed.set(seed, referenceLogits(seed, images))
  return referenceBySeed.get(seed)!
}

export async function predict(url: string, index: number): Promise<{status: number; logits?: number[]; error?: string}> {
  return predictImage(url, imageRows(images, index))
}

export async function predictImage(url: string, rows: number[][]): Promise<{status: number; logits?: number[]; error?: string}> {
  const response = await fetch(`${url}/v1/models/mnist:predict`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({instances: [rows]}),
  })
  const body = (await response.json()) as {predictions?: number[][]; error?: string}
  return {status: response.status, logits: body.predictions?.[0], error: body.error}
}

export function matches(logits: number[], reference: Float32Array, index: number): boolean {
  return logits.every((value, k) => Math.abs(value - reference[index * 10 + k]) <= TOLERANCE)
}

/** Which version (by its seed's reference logits) produced `logits` for image `index`. */
export function versionOf(logits: number[], index: number): number | undefined {
  for (const [version, seed] of Object.entries(SEEDS)) if (matches(logits, referenceOf(seed), index)) return Number(version)
  return undefined
}

/** Logits of batched and unbatched answers agree within the tolerance. */
export function expectClose(actual: number[], wanted: number[]): void {
  actual.forEach((value, k) => expect(Math.abs(value - wanted[k])).toBeLessThanOrEqual(TOLERANCE))
}

export function referenceFor(version: number): Float32Array {
  return referenceOf(SEEDS[version])
}

export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Clients sending requests back to back until stopped; every answer recorded. */
export function steadyTraffic(url: string) {
  const answers: Array<{status: number; version?: number}> = []
  let running = true
  const clients = Array.from({length: CLIENTS}, async (_, client) => {
    for (let n = client; running; n += CLIENTS) {
      const index = n % IMAGES
      const {status, logits} = await predict(url, index).catch(() => ({status: 0, logits: undefined}))
      answers.push({status, version: logits && versionOf(logits, index)})
    }
  })
  return {
    answers,
    clients: CLIENTS,
    stop: async () => {
      running = false
      await Promise.all(clients)
    },
  }
}

export async function statusOf(url: string) {
  return ((await (await fetch(`${url}/v1/models/mnist`)).json()) as {model_version_status: Array<{version: string; state: string; status: {error_message: string}}>})
    .model_version_status
}

import {imageRows, referenceLogits} from './serving-fixtures.js'

/** How long a test waits for a server to get somewhere before it fails (a deadline, not a measurement). */
const WAIT_LIMIT_MS = 60_000
const TOLERANCE = 1e-5

export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export function logitsMatch(logits: number[], reference: Float32Array, index: number): boolean {
  return logits.every((value, k) => Math.abs(value - reference[index * 10 + k]) <= TOLERANCE)
}

/** Says which version produced an answer, from each version's seed (test exports are made from seeds). */
export function versionIdentifier(seedOfVersion: Record<number, number>, images: Float32Array): (logits: number[], index: number) => number | undefined {
  const references = Object.entries(seedOfVersion).map(([version, seed]) => ({version: Number(version), reference: referenceLogits(seed, images)}))
  return (logits, index) => references.find(({reference}) => logitsMatch(logits, reference, index))?.version
}

export async function predict(url: string, path: string, images: Float32Array, index: number): Promise<{status: number; logits?: number[]; error?: string}> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({instances: [imageRows(images, index)]}),
  })
  const body = (await response.json()) as {predictions?: number[][]; error?: string}
  return {status: response.status, logits: body.predictions?.[0], error: body.error}
}

export interface TrafficAnswer {
  status: number
  version?: number
  error?: string
}

/** `clients` loops sending one-image predictions to `path` back to back until stopped; every answer recorded, with the version that gave it. */
export function steadyTraffic(url: string, path: string, clients: number, images: Float32Array, identify: (logits: number[], index: number) => number | undefined) {
  const answers: TrafficAnswer[] = []
  const imageCount = images.length / 784
  let running = true
  const loops = Array.from({length: clients}, async (_, client) => {
    for (let n = client; running; n += clients) {
      const index = n % imageCount
      const answer = await predict(url, path, images, index).catch((error: Error) => ({status: 0, logits: undefined, error: error.message}))
      answers.push({status: answer.status, version: answer.logits && identify(answer.logits, index), error: answer.error})
    }
  })
  return {
    answers,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

export interface RestVersionStatus {
  version: string
  state: string
  status: {error_code: string; error_message: string}
}

export async function statusOf(url: string, path = '/v1/models/mnist'): Promise<RestVersionStatus[]> {
  return ((await (await fetch(`${url}${path}`)).json()) as {model_version_status: RestVersionStatus[]}).model_version_status
}

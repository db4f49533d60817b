import {cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingLog} from '../../src/lib/serving/api.js'
import {makeTempDir} from '../helpers/cli.js'
import {imageRows, mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'

const IMAGES = 16
const TOLERANCE = 1e-5
const POLL_SECONDS = 0.2
const CLIENTS = 4
const WAIT_LIMIT_MS = 60_000
const SEEDS: Record<number, number> = {1: 11, 2: 22, 4: 44}

const {images} = mnistTestImages(IMAGES)
const referenceBySeed = new Map(Object.values(SEEDS).map((seed) => [seed, referenceLogits(seed, images)]))

function logLines(): {log: ServingLog; lines: string[]} {
  const lines: string[] = []
  return {lines, log: {info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m)}}
}

async function predict(url: string, index: number): Promise<{status: number; logits?: number[]}> {
  const response = await fetch(`${url}/v1/models/mnist:predict`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({instances: [imageRows(images, index)]}),
  })
  const body = (await response.json()) as {predictions?: number[][]}
  return {status: response.status, logits: body.predictions?.[0]}
}

function matches(logits: number[], reference: Float32Array, index: number): boolean {
  return logits.every((value, k) => Math.abs(value - reference[index * 10 + k]) <= TOLERANCE)
}

/** Which version (by its seed's reference logits) produced `logits` for image `index`. */
function versionOf(logits: number[], index: number): number | undefined {
  for (const [version, seed] of Object.entries(SEEDS)) if (matches(logits, referenceBySeed.get(seed)!, index)) return Number(version)
  return undefined
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Clients sending requests back to back until stopped; every answer recorded. */
function steadyTraffic(url: string) {
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
    stop: async () => {
      running = false
      await Promise.all(clients)
    },
  }
}

async function statusOf(url: string) {
  return ((await (await fetch(`${url}/v1/models/mnist`)).json()) as {model_version_status: Array<{version: string; state: string; status: {error_message: string}}>})
    .model_version_status
}

describe('versions: hot reload, refusals, worker crashes', () => {
  const temp = makeTempDir('mnist-rnn-versions-')
  const {log, lines} = logLines()
  let server: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 2, pollSeconds: POLL_SECONDS, backend: 'wasm'}, log)
  })

  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it('a new version published while requests flow is picked up with zero failed requests', async () => {
    const traffic = steadyTraffic(server.url)
    await until(() => traffic.answers.length >= 20, 'traffic on version 1')
    await writeTestExport(temp.dir, 2, SEEDS[2])
    await until(() => traffic.answers.some((answer) => answer.version === 2), 'an answer from version 2')
    const switchedAt = traffic.answers.length
    await until(() => traffic.answers.length >= switchedAt + 20, 'more traffic on version 2')
    await traffic.stop()

    expect(traffic.answers.filter((answer) => answer.status !== 200)).toEqual([])
    expect(traffic.answers.every((answer) => answer.version === 1 || answer.version === 2)).toBe(true)
    expect(traffic.answers[0].version).toBe(1)
    expect(traffic.answers.slice(-CLIENTS).every((answer) => answer.version === 2)).toBe(true)
    expect(await statusOf(server.url)).toEqual([
      {version: '2', state: 'AVAILABLE', status: {error_code: 'OK', error_message: ''}},
      {version: '1', state: 'END', status: {error_code: 'OK', error_message: ''}},
    ])
    expect(lines).toContain('serving mnist version 2 (replaces version 1)')
  })

  it('a corrupt new version is refused and logged; the old one keeps serving; temporary folders are ignored', async () => {
    mkdirSync(join(temp.dir, '.tmp-export-99999-abc'))
    writeFileSync(join(temp.dir, '.tmp-export-99999-abc', 'model.json'), '{')
    const staging = join(temp.dir, '.staging-3')
    cpSync(join(temp.dir, '2'), staging, {recursive: true})
    const weights = readFileSync(join(staging, 'weights.bin'))
    weights[weights.length - 1] ^= 0xff
    writeFileSync(join(staging, 'weights.bin'), weights)
    renameSync(staging, join(temp.dir, '3'))

    await until(async () => (await statusOf(server.url)).some((status) => status.version === '3'), 'version 3 to be tried')
    const statuses = await statusOf(server.url)
    expect(statuses.map((status) => [status.version, status.state])).toEqual([
      ['3', 'END'],
      ['2', 'AVAILABLE'],
      ['1', 'END'],
    ])
    expect(statuses[0].status.error_message).toMatch(/^weights\.bin fails its recorded sha256/)
    expect(lines.find((line) => line.startsWith('version 3 of mnist refused'))).toMatch(/weights\.bin fails its recorded sha256.*; still serving version 2$/)
    const answer = await predict(server.url, 5)
    expect(answer.status).toBe(200)
    expect(versionOf(answer.logits!, 5)).toBe(2)
    expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({version: 2})
  })

  it('an incomplete version folder is refused until its files are complete, then served', async () => {
    const complete = join(temp.dir, '.complete-4')
    await writeTestExport(complete, 4, SEEDS[4])
    mkdirSync(join(temp.dir, '4'))
    for (const name of ['model.json', 'signature.json']) cpSync(join(complete, '4', name), join(temp.dir, '4', name))
    await until(async () => (await statusOf(server.url)).some((status) => status.version === '4'), 'version 4 to be tried')
    expect((await statusOf(server.url))[0].status.error_message).toMatch(/missing weights\.bin \(incomplete export\)/)

    for (const name of ['weights.bin', 'model.onnx']) cpSync(join(complete, '4', name), join(temp.dir, '4', name))
    await until(async () => (await statusOf(server.url))[0].state === 'AVAILABLE', 'version 4 to be served')
    const answer = await predict(server.url, 3)
    expect(versionOf(answer.logits!, 3)).toBe(4)
    rmSync(complete, {recursive: true, force: true})
  })

  it('an inference worker that dies is restarted and logged, and no request fails', async () => {
    const traffic = steadyTraffic(server.url)
    await until(() => traffic.answers.length >= 10, 'traffic')
    await server.pool.simulateCrash(0)
    const crashedAt = traffic.answers.length
    await until(() => server.pool.restarts === 1 && traffic.answers.length >= crashedAt + 40, 'traffic after the restart')
    await traffic.stop()
    expect(traffic.answers.filter((answer) => answer.status !== 200)).toEqual([])
    expect(lines.some((line) => /^inference worker 0 died \(exit code 1\).*; restarting it/.test(line))).toBe(true)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/^mnist_serving_worker_restarts_total 1$/m)
  })
})

describe('batching: batched answers equal unbatched ones and reach the right caller', () => {
  const temp = makeTempDir('mnist-rnn-batching-')
  let batching: RunningServer
  let unbatched: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    const options = {...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, maxBatchSize: 64, pollSeconds: 60, backend: 'wasm' as const}
    // A long batch timeout so that concurrent requests surely share passes.
    batching = await startServer({...options, batchTimeoutMs: 200}, logLines().log)
    unbatched = await startServer({...options, batching: false}, logLines().log)
  })

  afterAll(async () => {
    await batching?.shutdown()
    await unbatched?.shutdown()
    temp.cleanup()
  })

  async function batchFigures(url: string) {
    const text = await (await fetch(`${url}/metrics`)).text()
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)![1])
    return {passes: value('mnist_serving_batch_requests_count'), requests: value('mnist_serving_batch_requests_sum')}
  }

  it('concurrent single-image requests share forward passes, and each gets its own image’s answer', async () => {
    const indexes = Array.from({length: 48}, (_, i) => i % IMAGES)
    const [batched, single] = await Promise.all([batching, unbatched].map((server) => Promise.all(indexes.map((index) => predict(server.url, index)))))
    const reference = referenceBySeed.get(SEEDS[1])!
    indexes.forEach((index, i) => {
      expect(batched[i].status).toBe(200)
      expect(matches(batched[i].logits!, reference, index)).toBe(true)
      batched[i].logits!.forEach((value, k) => expect(Math.abs(value - single[i].logits![k])).toBeLessThanOrEqual(TOLERANCE))
    })
    const merged = await batchFigures(batching.url)
    expect(merged.requests).toBe(48)
    expect(merged.passes).toBeLessThan(48)
    expect(await batchFigures(unbatched.url)).toEqual({passes: 48, requests: 48})
  })
})

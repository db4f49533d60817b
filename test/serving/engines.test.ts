import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UserError} from '../../src/lib/core/errors.js'
import {NO_ONNXRUNTIME_ENV} from '../../src/lib/export/engines/onnxruntime.js'
import {EngineName} from '../../src/lib/export/engines/engine.js'
import {ServingLog} from '../../src/lib/serving/api.js'
import {SERVE_DEFAULTS, ServeOptions} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {makeTempDir} from '../helpers/cli.js'
import {imageFlat, imageRows, mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'

const IMAGES = 8
const TOLERANCE = 1e-5
const POLL_SECONDS = 0.2
const WAIT_LIMIT_MS = 60_000
const SEEDS: Record<number, number> = {1: 101, 2: 202}

const {images} = mnistTestImages(IMAGES)
const references = new Map(Object.entries(SEEDS).map(([version, seed]) => [Number(version), referenceLogits(seed, images)]))

function logLines(): {log: ServingLog; lines: string[]} {
  const lines: string[] = []
  return {lines, log: {info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m)}}
}

async function post(url: string, path: string, body: unknown): Promise<{status: number; json: Record<string, unknown>}> {
  const response = await fetch(`${url}${path}`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  return {status: response.status, json: (await response.json()) as Record<string, unknown>}
}

async function predict(url: string, index: number): Promise<{status: number; logits?: number[]}> {
  const {status, json} = await post(url, '/v1/models/mnist:predict', {instances: [imageRows(images, index)]})
  return {status, logits: (json.predictions as number[][] | undefined)?.[0]}
}

/** The version whose reference logits `logits` are, for image `index`. */
function versionOf(logits: number[], index: number): number | undefined {
  for (const [version, reference] of references) {
    if (logits.every((value, k) => Math.abs(value - reference[index * 10 + k]) <= TOLERANCE)) return version
  }
  return undefined
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function steadyTraffic(url: string, clients = 4) {
  const answers: Array<{status: number; version?: number}> = []
  let running = true
  const loops = Array.from({length: clients}, async (_, client) => {
    for (let n = client; running; n += clients) {
      const index = n % IMAGES
      const {status, logits} = await predict(url, index).catch(() => ({status: 0, logits: undefined}))
      answers.push({status, version: logits && versionOf(logits, index)})
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

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text()
}

function options(modelDir: string, overrides: Partial<ServeOptions> = {}): ServeOptions {
  return {...SERVE_DEFAULTS, port: 0, modelDir, pollSeconds: POLL_SECONDS, backend: 'wasm', ...overrides}
}

describe.each<EngineName>(['onnxruntime', 'tfjs'])('serving on the %s engine', (engine) => {
  const temp = makeTempDir(`mnist-rnn-engine-${engine}-`)
  const {log, lines} = logLines()
  let server: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    server = await startServer(options(temp.dir, {engine, workers: 2, batchTimeoutMs: 20}), log)
  })
  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it('answers the model’s logits (TF Serving) and probabilities (Flask), and says which engine runs it', async () => {
    expect(server.engine).toEqual({engine, reason: engine === 'tfjs' ? '--engine tfjs' : expect.stringMatching(/^--engine onnxruntime \(onnxruntime-node 1\.\d+/)})
    expect(server.backend).toBe(engine === 'tfjs' ? 'wasm' : undefined)
    const {status, json} = await post(server.url, '/v1/models/mnist:predict', {instances: [0, 1, 2].map((index) => imageRows(images, index))})
    expect(status).toBe(200)
    ;(json.predictions as number[][]).forEach((row, index) => expect(versionOf(row, index)).toBe(1))
    const flask = await post(server.url, '/', {data: imageFlat(images, 3)})
    expect((flask.json.y as number[][])[0].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)
    expect(await metricsText(server.url)).toMatch(new RegExp(`^mnist_serving_engine_info\\{engine="${engine}",reason="[^"]+",backend="${engine === 'tfjs' ? 'wasm' : 'none'}",workers="2",intra_op_threads="${engine === 'tfjs' ? 'none' : '1'}"\\} 1$`, 'm'))
    // The Open Inference Protocol's model metadata names the format that runs, as Triton names it.
    const metadata = (await (await fetch(`${server.url}/v2/models/mnist`)).json()) as {platform: string}
    expect(metadata.platform).toBe(engine === 'onnxruntime' ? 'onnxruntime_onnx' : 'tensorflowjs_layers')
  })

  it('merges concurrent requests into shared forward passes, each caller getting its own answer', async () => {
    const passes = (text: string) => Number(/^mnist_serving_batch_requests_count (\S+)$/m.exec(text)![1])
    const before = passes(await metricsText(server.url))
    const indexes = Array.from({length: 32}, (_, i) => i % IMAGES)
    const answers = await Promise.all(indexes.map((index) => predict(server.url, index)))
    answers.forEach((answer, i) => expect(versionOf(answer.logits!, indexes[i])).toBe(1))
    expect(passes(await metricsText(server.url)) - before).toBeLessThan(32)
  })

  it('answers bad input with a one-line 4xx and keeps serving', async () => {
    expect((await post(server.url, '/v1/models/mnist:predict', {instances: [[1, 2, 3]]})).status).toBe(400)
    expect((await post(server.url, '/v1/models/mnist/versions/9:predict', {instances: [imageRows(images, 0)]})).status).toBe(404)
    expect((await post(server.url, '/', {data: []})).json).toEqual({error: expect.stringMatching(/^empty batch/)})
    expect(versionOf((await predict(server.url, 4)).logits!, 4)).toBe(1)
  })

  it('swaps in a new version under traffic with no failed request', async () => {
    const traffic = steadyTraffic(server.url)
    await until(() => traffic.answers.length >= 20, 'traffic on version 1')
    await writeTestExport(temp.dir, 2, SEEDS[2])
    await until(() => traffic.answers.some((answer) => answer.version === 2), 'an answer from version 2')
    const switchedAt = traffic.answers.length
    await until(() => traffic.answers.length >= switchedAt + 20, 'traffic on version 2')
    await traffic.stop()
    expect(traffic.answers.filter((answer) => answer.status !== 200 || answer.version === undefined)).toEqual([])
    expect(traffic.answers.slice(-4).every((answer) => answer.version === 2)).toBe(true)
    expect(lines).toContain('serving mnist version 2 (replaces version 1)')
  })

  it('drains on shutdown: requests in flight are answered, then the port closes', async () => {
    // Every request has reached the server and its forward pass is slowed down when shutdown begins.
    let arrived = 0
    const {core, pool} = server
    const predictNow = core.predict.bind(core)
    core.predict = (request) => {
      arrived++
      return predictNow(request)
    }
    const runNow = pool.run.bind(pool)
    pool.run = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 300))
      return runNow(...args)
    }
    const inFlight = Array.from({length: 16}, (_, i) => predict(server.url, i % IMAGES))
    await until(() => arrived === 16, 'all requests to arrive')
    const url = server.url
    await server.shutdown()
    expect((await Promise.all(inFlight)).map((answer) => answer.status)).toEqual(Array(16).fill(200))
    await expect(predict(url, 0)).rejects.toThrow()
  })
})

describe('choosing the engine', () => {
  const temp = makeTempDir('mnist-rnn-engine-choice-')
  afterAll(() => temp.cleanup())

  it('auto runs a version without model.onnx on tfjs; --engine onnxruntime refuses it at start-up', async () => {
    const dir = `${temp.dir}/layers-only`
    await writeTestExport(dir, 1, SEEDS[1], {onnx: false})
    const server = await startServer(options(dir, {workers: 1}), logLines().log)
    try {
      expect(server.engine).toEqual({engine: 'tfjs', reason: 'auto: version 1 has no model.onnx'})
      expect(versionOf((await predict(server.url, 0)).logits!, 0)).toBe(1)
    } finally {
      await server.shutdown()
    }
    await expect(startServer(options(dir, {engine: 'onnxruntime', workers: 1}), logLines().log)).rejects.toThrow(
      new UserError('--engine onnxruntime: version 1 has no model.onnx (exported before ONNX export existed; export it again, or use --engine tfjs)'),
    )
  })

  it('auto takes tfjs when onnxruntime-node does not load, and says so', async () => {
    const dir = `${temp.dir}/no-ort`
    await writeTestExport(dir, 1, SEEDS[1])
    process.env[NO_ONNXRUNTIME_ENV] = '1'
    try {
      const server = await startServer(options(dir, {workers: 1}), logLines().log)
      expect(server.engine).toEqual({engine: 'tfjs', reason: `auto: onnxruntime-node does not load (disabled by ${NO_ONNXRUNTIME_ENV}=1)`})
      await server.shutdown()
    } finally {
      delete process.env[NO_ONNXRUNTIME_ENV]
    }
  })

  it('an onnxruntime server refuses a newer version without model.onnx and keeps serving the old one', async () => {
    const dir = `${temp.dir}/mixed`
    await writeTestExport(dir, 1, SEEDS[1])
    const {log, lines} = logLines()
    const server = await startServer(options(dir, {workers: 1}), log)
    try {
      expect(server.engine.engine).toBe('onnxruntime')
      await writeTestExport(dir, 2, SEEDS[2], {onnx: false})
      const refusal = 'version 2 of mnist refused: version 2 has no model.onnx and this server runs the onnxruntime engine (serve it with --engine tfjs); still serving version 1'
      await until(() => lines.includes(refusal), 'the refusal')
      expect(versionOf((await predict(server.url, 1)).logits!, 1)).toBe(1)
    } finally {
      await server.shutdown()
    }
  })

  it('--workers 0 runs ONNX Runtime on the serving thread, swapping versions as workers do', async () => {
    const dir = `${temp.dir}/in-process`
    await writeTestExport(dir, 1, SEEDS[1])
    const server = await startServer(options(dir, {workers: 0, onnxThreads: 2}), logLines().log)
    try {
      expect(server.workers).toBe(0)
      const answers = await Promise.all(Array.from({length: 12}, (_, i) => predict(server.url, i % IMAGES)))
      answers.forEach((answer, i) => expect(versionOf(answer.logits!, i % IMAGES)).toBe(1))
      const traffic = steadyTraffic(server.url)
      await writeTestExport(dir, 2, SEEDS[2])
      await until(() => traffic.answers.some((answer) => answer.version === 2), 'an answer from version 2')
      await traffic.stop()
      expect(traffic.answers.filter((answer) => answer.status !== 200 || answer.version === undefined)).toEqual([])
    } finally {
      await server.shutdown()
    }
  })
})

/**
 * HTTP and gRPC serving throughput and latency: single-image requests over loopback at
 * concurrency 1, 16 and 64, with request batching and with --no-batching; RSS and the workers'
 * tensor count before and after. Figures only; nothing here passes or fails. Every protocol the
 * server speaks drives the same server in turn:
 *
 *   rest       TF Serving's POST /v1/models/mnist:predict, {"instances"} JSON   (autocannon)
 *   flask      the seed's POST / {"data"} JSON                                   (autocannon)
 *   grpc       TF Serving's gRPC Predict, tensor_content                         (bench/grpc-load.ts)
 *   v2         Open Inference Protocol POST /v2/models/mnist/infer, JSON tensors (autocannon)
 *   v2-binary  the same with binary tensors both ways (Inference-Header-Content-Length)
 *   v2-grpc    Open Inference Protocol gRPC ModelInfer, raw_input_contents
 *
 * The same load runs against each engine in turn (--engines, default onnxruntime and tfjs, each
 * with its default sizing), one server at a time.
 *
 *   npm run build && npm run bench:serve
 *   npm run bench:serve -- --model-dir exportmodel --seconds 10 --apis flask,v2-binary --workers 1
 *   npm run bench:serve -- --engines onnxruntime --soak 100000   # then RSS and tensors across 100,000 more requests
 *   npm run bench:serve -- --sizing 1x1,1x2,2x1,0x1,0x2          # ONNX Runtime sizes: workers x intra-op threads (REST, batching)
 *   npm run bench:serve -- --modes batching --concurrency 64 --rounds 5 --seconds 3   # interleaved rounds, medians
 *
 * Without --model-dir it exports a fresh (untrained, 128-unit) model to a temporary folder: speed
 * does not depend on what the weights learned. The server runs as a child process (the built CLI),
 * so it does not share an event loop with the load generator.
 */
import autocannon from 'autocannon'
import {ChildProcess, spawn} from 'node:child_process'
import {once} from 'node:events'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'

import {selectBackend} from '../src/lib/backend.js'
import {v2InferBody} from '../src/lib/client/v2-client.js'
import {IMAGE_PIXELS} from '../src/lib/core/image.js'
import {loadMnistSplit} from '../src/lib/data/mnist.js'
import {writeExport} from '../src/lib/export/index.js'
import {DEFAULT_HIDDEN_UNITS, createClassifierWeights, disposeClassifierWeights} from '../src/lib/model/weights.js'
import {LoadFigures, runGrpcLoad, runV2GrpcLoad} from './grpc-load.js'

const DISTINCT_IMAGES = 100
const WARMUP_SECONDS = 1
const HOST = '127.0.0.1'
const REPO_ROOT = resolve(import.meta.dirname, '..')
const CLI = join(REPO_ROOT, 'bin', 'run.js')

const {values: args} = parseArgs({
  options: {
    'model-dir': {type: 'string'},
    seconds: {type: 'string', default: '5'},
    apis: {type: 'string'},
    concurrency: {type: 'string', default: '1,16,64'},
    modes: {type: 'string', default: 'batching,no-batching'},
    rounds: {type: 'string', default: '1'},
    workers: {type: 'string'},
    soak: {type: 'string'},
    engines: {type: 'string', default: 'onnxruntime,tfjs'},
    sizing: {type: 'string'},
  },
})

/** One server to put the load on: a label for the table and its serve flags. */
interface ServerConfig {
  label: string
  flags: string[]
}

/** `--sizing 1x2,0x1`: ONNX Runtime with those worker × intra-op thread counts, and tfjs as the baseline. */
function serverConfigs(): ServerConfig[] {
  const workers = args.workers ? ['--workers', args.workers] : []
  if (!args.sizing) return args.engines!.split(',').map((engine) => ({label: engine.trim(), flags: ['--engine', engine.trim(), ...workers]}))
  const sizes = args.sizing.split(',').map((size) => {
    const match = /^(\d+)x(\d+)$/.exec(size.trim())
    if (!match) throw new Error(`--sizing takes WORKERSxTHREADS,…, got ${size}`)
    return {label: `onnxruntime ${match[1]}w×${match[2]}t`, flags: ['--engine', 'onnxruntime', '--workers', match[1], '--onnx-threads', match[2]]}
  })
  return [...sizes, {label: 'tfjs', flags: ['--engine', 'tfjs', ...workers]}]
}
const SOAK_STEPS = 4
const SOAK_CONCURRENCY = 64
const seconds = Number(args.seconds)
const concurrencies = args.concurrency!.split(',').map(Number)
/** --sizing compares engine sizes on REST with batching only, unless told otherwise. */
const modes = args.sizing ? ['batching'] : args.modes!.split(',').map((mode) => mode.trim())
/** Each API runs this many times per concurrency, in turn with the others, so that a shared machine's noise spreads over all of them. */
const rounds = Number(args.rounds)
const BENCH_APIS = ['rest', 'flask', 'grpc', 'v2', 'v2-binary', 'v2-grpc'] as const
type BenchApi = (typeof BENCH_APIS)[number]
const apis = (args.apis ?? (args.sizing ? 'rest' : 'rest,grpc,v2,v2-binary,v2-grpc')).split(',').map((name) => name.trim()) as BenchApi[]
const unknownApi = apis.find((name) => !BENCH_APIS.includes(name))
if (unknownApi) throw new Error(`--apis: unknown API ${unknownApi}; choose from ${BENCH_APIS.join(', ')}`)
/** The HTTP APIs autocannon drives: path and per-image request (body and headers). */
const HTTP_APIS: Partial<Record<BenchApi, {path: string; request: (image: Float32Array) => {body: string | Buffer; headers: Record<string, string>}}>> = {
  rest: {path: '/v1/models/mnist:predict', request: (image) => jsonRequest({instances: [Array.from(image)]})},
  flask: {path: '/', request: (image) => jsonRequest({data: Array.from(image)})},
  v2: {path: '/v2/models/mnist/infer', request: (image) => v2InferBody(image, 1, 'json')},
  'v2-binary': {path: '/v2/models/mnist/infer', request: (image) => v2InferBody(image, 1, 'binary')},
}
const GRPC_LOADS: Partial<Record<BenchApi, typeof runGrpcLoad>> = {grpc: runGrpcLoad, 'v2-grpc': runV2GrpcLoad}
/** The warm-up's and the soak's requests: the first HTTP API asked for. */
const SOAK_API: BenchApi = apis.find((name) => HTTP_APIS[name]) ?? 'rest'

function jsonRequest(body: object): {body: string; headers: Record<string, string>} {
  return {body: JSON.stringify(body), headers: {'content-type': 'application/json'}}
}

interface RunFigures {
  mode: string
  api: string
  concurrency: number
  requests: number
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
}

interface ServerSample {
  rssBytes: number
  numTensors: number
}

async function exportBenchModel(): Promise<string> {
  // The cpu backend: no wasm thread pool in this process competing with the server for the cores.
  await selectBackend('cpu')
  const dir = mkdtempSync(join(tmpdir(), 'mnist-rnn-bench-serve-'))
  const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, 1)
  try {
    await writeExport({
      weights,
      exportDir: dir,
      version: 1,
      probeImages: loadMnistSplit('test', undefined, 8).images,
      provenance: {
        checkpoint: {name: 'bench', path: 'bench', step: 0},
        test_accuracy: 0,
        test_images: 0,
        training_config: {hidden: DEFAULT_HIDDEN_UNITS, seed: 1},
        toolkit_version: 'bench',
        backend: 'wasm',
      },
    })
  } finally {
    disposeClassifierWeights(weights)
  }
  return dir
}

async function startServe(modelDir: string, batching: boolean, config: ServerConfig): Promise<{url: string; grpcAddress: string; child: ChildProcess}> {
  const flags = ['serve', '--host', HOST, '--port', '0', '--grpc-port', '0', '--model-dir', modelDir, '--json', ...(batching ? [] : ['--no-batching']), ...config.flags]
  const child = spawn(process.execPath, [CLI, ...flags], {stdio: ['ignore', 'pipe', 'inherit']})
  let output = ''
  for await (const chunk of child.stdout!) {
    output += chunk
    for (const line of output.split('\n')) {
      if (!line.startsWith('{')) continue
      const event = JSON.parse(line) as {event: string; url?: string; frontends?: {address: string}[]}
      if (event.event === 'listening') return {url: event.url!, grpcAddress: event.frontends![0].address, child}
    }
  }
  throw new Error(`serve exited before listening: ${output}`)
}

async function sample(url: string): Promise<ServerSample> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return {rssBytes: value('process_resident_memory_bytes'), numTensors: value('mnist_serving_num_tensors')}
}

type HttpRequests = {method: 'POST'; body: string | Buffer; headers: Record<string, string>}[]

function requestsOf(api: BenchApi, images: Float32Array): HttpRequests {
  return Array.from({length: DISTINCT_IMAGES}, (_, i) => ({method: 'POST' as const, ...HTTP_APIS[api]!.request(images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS))}))
}

/** Drives the server for `durationSeconds`, or for exactly `amount` requests when given. */
async function drive(url: string, api: BenchApi, concurrency: number, durationSeconds: number, amount?: number): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}${HTTP_APIS[api]!.path}`,
    connections: concurrency,
    ...(amount === undefined ? {duration: durationSeconds} : {amount}),
    requests: httpRequests.get(api)!,
  })
}

/** One run of `api` at `concurrency` against a running server. */
async function runApi(api: BenchApi, url: string, grpcAddress: string, concurrency: number): Promise<LoadFigures> {
  const grpcLoad = GRPC_LOADS[api]
  if (grpcLoad) return grpcLoad(grpcAddress, {concurrency, durationMs: seconds * 1000, images: benchImages, imageCount: DISTINCT_IMAGES, encoding: 'tensor_content'})
  const result = await drive(url, api, concurrency, seconds)
  return {
    concurrency,
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  }
}

/** RSS and the workers' tensor count while `total` requests go through a batching server. */
async function soak(modelDir: string, total: number, config: ServerConfig): Promise<void> {
  const {url, child} = await startServe(modelDir, true, config)
  try {
    await drive(url, SOAK_API, 16, WARMUP_SECONDS)
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0)
    let first = await sample(url)
    console.log(`\nsoak (${config.label}): ${total} requests at concurrency ${SOAK_CONCURRENCY}`)
    console.log(`  after warm-up: RSS ${mb(first.rssBytes)} MB, numTensors ${first.numTensors}`)
    let errors = 0
    for (let step = 1; step <= SOAK_STEPS; step++) {
      const result = await drive(url, SOAK_API, SOAK_CONCURRENCY, 0, Math.round(total / SOAK_STEPS))
      errors += result.errors + result.timeouts + result.non2xx
      first = await sample(url)
      console.log(`  after ${Math.round((step * total) / SOAK_STEPS)}: RSS ${mb(first.rssBytes)} MB, numTensors ${first.numTensors}, ${result.requests.average.toFixed(0)} req/s, ${errors} errors so far`)
    }
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
}

function table(rows: RunFigures[], samples: Map<string, {before: ServerSample; after: ServerSample}>): string {
  const header = ['mode', 'api', 'conc', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'RSS MB before→after', 'numTensors before→after']
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0)
  const lines = rows.map((row) => {
    const s = samples.get(row.mode)!
    return [
      row.mode,
      row.api,
      String(row.concurrency),
      String(row.requests),
      row.requestsPerSecond.toFixed(0),
      row.p50Ms.toFixed(1),
      row.p99Ms.toFixed(1),
      String(row.errors),
      `${mb(s.before.rssBytes)}→${mb(s.after.rssBytes)}`,
      `${s.before.numTensors}→${s.after.numTensors}`,
    ]
  })
  for (const [mode, s] of samples) {
    const served = rows.filter((row) => row.mode === mode).reduce((sum, row) => sum + row.requests, 0)
    lines.push([`${mode} total`, '', '', String(served), '', '', '', '', `${mb(s.before.rssBytes)}→${mb(s.after.rssBytes)}`, `${s.before.numTensors}→${s.after.numTensors}`])
  }
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column].length)))
  const format = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`
  return [format(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...lines.map(format)].join('\n')
}

if (!existsSync(join(REPO_ROOT, 'dist', 'commands', 'serve.js'))) throw new Error('build first: npm run build')
const ownModelDir = args['model-dir'] ? undefined : await exportBenchModel()
const modelDir = args['model-dir'] ?? ownModelDir!
const benchImages = loadMnistSplit('test', undefined, DISTINCT_IMAGES).images
const httpRequests = new Map<BenchApi, HttpRequests>(BENCH_APIS.filter((name) => HTTP_APIS[name]).map((name) => [name, requestsOf(name, benchImages)]))
console.log(`serve bench: single-image requests over ${apis.join(', ')}, ${seconds}s per run, model ${modelDir}`)

const rows: RunFigures[] = []
const samples = new Map<string, {before: ServerSample; after: ServerSample}>()
const configs = serverConfigs()
for (const {config, batching} of configs.flatMap((config) => modes.map((name) => ({config, batching: name !== 'no-batching'})))) {
  const mode = `${config.label} ${batching ? 'batching' : 'no-batching'}`
  const {url, grpcAddress, child} = await startServe(modelDir, batching, config)
  try {
    await drive(url, SOAK_API, 16, WARMUP_SECONDS)
    const before = await sample(url)
    for (const concurrency of concurrencies) {
      for (let round = 1; round <= rounds; round++) {
        // Each round starts one API further along, so no API always runs first or after the same one.
        const order = apis.map((_, i) => apis[(i + round - 1) % apis.length])
        for (const api of order) {
          const figures = await runApi(api, url, grpcAddress, concurrency)
          rows.push({mode, api, ...figures})
          console.log(
            `${mode} ${api} c=${concurrency}${rounds > 1 ? ` round ${round}` : ''}: ${figures.requestsPerSecond.toFixed(0)} req/s, p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms, ${figures.errors} errors` +
              (figures.firstError ? ` (first: ${figures.firstError})` : ''),
          )
        }
      }
    }
    samples.set(mode, {before, after: await sample(url)})
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
}
console.log()
console.log(table(rows, samples))
/** Median requests/s of `rowApi` at concurrency 64 over the rounds. */
const at64 = (mode: string, rowApi: string): number | undefined => {
  const rates = rows.filter((row) => row.mode === mode && row.api === rowApi && row.concurrency === 64).map((row) => row.requestsPerSecond)
  if (rates.length === 0) return undefined
  rates.sort((a, b) => a - b)
  return rates.length % 2 ? rates[rates.length >> 1] : (rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2
}
const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}×` : 'n/a')
console.log()
for (const config of configs) {
  for (const rowApi of apis) {
    if (modes.length > 1) console.log(`${rowApi} ${config.label}: batching / no-batching at concurrency 64: ${ratio(at64(`${config.label} batching`, rowApi), at64(`${config.label} no-batching`, rowApi))}`)
  }
}
for (const rowApi of apis) {
  const tfjs = at64('tfjs batching', rowApi)
  for (const config of configs.filter((candidate) => candidate.label !== 'tfjs')) {
    console.log(`${rowApi} ${config.label} / tfjs, batching, concurrency 64: ${ratio(at64(`${config.label} batching`, rowApi), tfjs)}`)
  }
}
for (const config of configs) {
  for (const mode of modes) {
    const label = `${config.label} ${mode}`
    const tfServingJson = at64(label, 'rest')
    for (const v2Api of ['v2', 'v2-binary', 'v2-grpc']) {
      const v2Rate = at64(label, v2Api)
      if (tfServingJson && v2Rate) {
        console.log(`${label}: ${v2Api} / TF Serving JSON (rest) at concurrency 64${rounds > 1 ? `, medians of ${rounds} rounds` : ''}: ${v2Rate.toFixed(0)} / ${tfServingJson.toFixed(0)} req/s = ${ratio(v2Rate, tfServingJson)}`)
      }
    }
  }
}
if (args.soak) await soak(modelDir, Number(args.soak), configs[0])
if (ownModelDir) rmSync(ownModelDir, {recursive: true, force: true})
process.exit(0)

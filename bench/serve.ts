/**
 * HTTP serving throughput and latency: single-image JSON predict requests over loopback at
 * concurrency 1, 16 and 64 (autocannon), with request batching and with --no-batching; RSS and
 * the workers' tensor count before and after. Figures only; nothing here passes or fails.
 * Beside each REST run, the same load as gRPC Predict calls (tensor_content, one channel, as
 * bench/grpc-load.ts drives them) against the same server's --grpc-port.
 * The same load runs against each engine in turn (--engines, default onnxruntime and tfjs, each
 * with its default sizing), one server at a time.
 *
 *   npm run build && npm run bench:serve
 *   npm run bench:serve -- --model-dir exportmodel --seconds 10 --api flask --workers 1
 *   npm run bench:serve -- --engines onnxruntime --soak 100000   # then RSS and tensors across 100,000 more requests
 *   npm run bench:serve -- --sizing 1x1,1x2,2x1,0x1,0x2          # ONNX Runtime sizes: workers x intra-op threads (REST, batching)
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
import {loadMnistSplit} from '../src/lib/data/mnist.js'
import {writeExport} from '../src/lib/export/index.js'
import {IMAGE_PIXELS} from '../src/lib/core/image.js'
import {DEFAULT_HIDDEN_UNITS, createClassifierWeights, disposeClassifierWeights} from '../src/lib/model/weights.js'
import {runGrpcLoad} from './grpc-load.js'

const CONCURRENCIES = [1, 16, 64]
const DISTINCT_IMAGES = 100
const WARMUP_SECONDS = 1
const HOST = '127.0.0.1'
const REPO_ROOT = resolve(import.meta.dirname, '..')
const CLI = join(REPO_ROOT, 'bin', 'run.js')

const {values: args} = parseArgs({
  options: {
    'model-dir': {type: 'string'},
    seconds: {type: 'string', default: '5'},
    api: {type: 'string', default: 'rest'},
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
  if (!args.sizing) return args.engines.split(',').map((engine) => ({label: engine.trim(), flags: ['--engine', engine.trim(), ...workers]}))
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
const api = args.api === 'flask' ? 'flask' : 'rest'

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

function requestBodies(images: Float32Array): string[] {
  const bodies: string[] = []
  for (let i = 0; i < DISTINCT_IMAGES; i++) {
    const pixels = Array.from(images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS))
    bodies.push(JSON.stringify(api === 'flask' ? {data: pixels} : {instances: [pixels]}))
  }
  return bodies
}

/** Drives the server for `durationSeconds`, or for exactly `amount` requests when given. */
async function drive(url: string, bodies: string[], concurrency: number, durationSeconds: number, amount?: number): Promise<autocannon.Result> {
  const path = api === 'flask' ? '/' : '/v1/models/mnist:predict'
  return autocannon({
    url: `${url}${path}`,
    connections: concurrency,
    ...(amount === undefined ? {duration: durationSeconds} : {amount}),
    headers: {'content-type': 'application/json'},
    requests: bodies.map((body) => ({method: 'POST', body})),
  })
}

/** RSS and the workers' tensor count while `total` requests go through a batching server. */
async function soak(modelDir: string, total: number, config: ServerConfig): Promise<void> {
  const {url, child} = await startServe(modelDir, true, config)
  try {
    await drive(url, bodies, 16, WARMUP_SECONDS)
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0)
    let first = await sample(url)
    console.log(`\nsoak (${config.label}): ${total} requests at concurrency ${SOAK_CONCURRENCY}`)
    console.log(`  after warm-up: RSS ${mb(first.rssBytes)} MB, numTensors ${first.numTensors}`)
    let errors = 0
    for (let step = 1; step <= SOAK_STEPS; step++) {
      const result = await drive(url, bodies, SOAK_CONCURRENCY, 0, Math.round(total / SOAK_STEPS))
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
const bodies = requestBodies(benchImages)
console.log(`serve bench: ${api} single-image requests, ${seconds}s per run, model ${modelDir}`)

const rows: RunFigures[] = []
const samples = new Map<string, {before: ServerSample; after: ServerSample}>()
const configs = serverConfigs()
const modes = args.sizing ? [true] : [true, false]
for (const {config, batching} of configs.flatMap((config) => modes.map((batching) => ({config, batching})))) {
  const mode = `${config.label} ${batching ? 'batching' : 'no-batching'}`
  const {url, grpcAddress, child} = await startServe(modelDir, batching, config)
  try {
    await drive(url, bodies, 16, WARMUP_SECONDS)
    const before = await sample(url)
    for (const concurrency of CONCURRENCIES) {
      const result = await drive(url, bodies, concurrency, seconds)
      const figures: RunFigures = {
        mode,
        api,
        concurrency,
        requests: result.requests.total,
        requestsPerSecond: result.requests.average,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        errors: result.errors + result.timeouts + result.non2xx,
      }
      rows.push(figures)
      console.log(`${mode} c=${concurrency}: ${figures.requestsPerSecond.toFixed(0)} req/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, ${figures.errors} errors`)
      if (args.sizing) continue
      const grpcFigures = await runGrpcLoad(grpcAddress, {concurrency, durationMs: seconds * 1000, images: benchImages, imageCount: DISTINCT_IMAGES, encoding: 'tensor_content'})
      rows.push({mode, api: 'grpc', ...grpcFigures})
      console.log(
        `${mode} grpc c=${concurrency}: ${grpcFigures.requestsPerSecond.toFixed(0)} req/s, p50 ${grpcFigures.p50Ms.toFixed(1)} ms, p99 ${grpcFigures.p99Ms.toFixed(1)} ms, ${grpcFigures.errors} errors` +
          (grpcFigures.firstError ? ` (first: ${grpcFigures.firstError})` : ''),
      )
    }
    samples.set(mode, {before, after: await sample(url)})
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
}
console.log()
console.log(table(rows, samples))
const at64 = (mode: string, rowApi: string) => rows.find((row) => row.mode === mode && row.api === rowApi && row.concurrency === 64)
const ratio = (a?: RunFigures, b?: RunFigures) => (a && b ? `${(a.requestsPerSecond / b.requestsPerSecond).toFixed(2)}×` : 'n/a')
console.log()
for (const rowApi of args.sizing ? [api] : [api, 'grpc']) {
  for (const config of configs) {
    if (!args.sizing) console.log(`${rowApi} ${config.label}: batching / no-batching at concurrency 64: ${ratio(at64(`${config.label} batching`, rowApi), at64(`${config.label} no-batching`, rowApi))}`)
  }
  const tfjs = at64('tfjs batching', rowApi)
  for (const config of configs.filter((candidate) => candidate.label !== 'tfjs')) {
    const row = at64(`${config.label} batching`, rowApi)
    console.log(`${rowApi} ${config.label} / tfjs, batching, concurrency 64: ${ratio(row, tfjs)} (p99 ${row?.p99Ms.toFixed(1)} ms vs ${tfjs?.p99Ms.toFixed(1)} ms)`)
  }
}
if (args.soak) await soak(modelDir, Number(args.soak), configs[0])
if (ownModelDir) rmSync(ownModelDir, {recursive: true, force: true})
process.exit(0)

import {UserError, errorMessage} from '../core/errors.js'
import {loadMnistSplit} from '../data/mnist.js'
import {IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS} from '../core/image.js'
import {GrpcServingClient, grpcAddressOfUrl, grpcFailureOf} from './grpc-client.js'
import {JsonPoster, RequestFailure} from './http-post.js'
import {LatencySummary, summarizeLatencies} from './latency.js'
import {V2GrpcClient, V2RestClient} from './v2-client.js'
import {DEFAULT_MODEL_NAME} from '../serving/options.js'
import {requireInteger} from '../core/validation.js'

/**
 * Which contract the client speaks: the seed's Flask route, TF Serving's REST :predict or its
 * gRPC Predict, or the Open Inference Protocol (V2) over REST with JSON tensors, over REST with
 * binary tensors, or over gRPC with raw tensors.
 */
export const CLIENT_APIS = ['flask', 'rest', 'grpc', 'v2', 'v2-binary', 'v2-grpc'] as const
export type ClientApi = (typeof CLIENT_APIS)[number]

const GRPC_APIS = new Set<ClientApi>(['grpc', 'v2-grpc'])

/** The MNIST test set holds 10,000 images; more tests than that cycle through it again. */
const MNIST_TEST_IMAGES = 10_000
const ERROR_SAMPLES = 5
const MS_PER_SECOND = 1000

export interface LoadClientOptions {
  /** The server's base URL, e.g. http://127.0.0.1:5000 */
  url: string
  api: ClientApi
  modelName?: string
  numTests: number
  concurrency: number
  dataDir?: string
  timeoutMs: number
  onProgress?: (done: number, total: number) => void
}

export interface LoadClientReport {
  endpoint: string
  api: ClientApi
  concurrency: number
  requests: number
  answered: number
  correct: number
  errors: number
  /** Correct answers over answered requests. */
  accuracy: number
  seconds: number
  requestsPerSecond: number
  latencyMs: LatencySummary
  /** The first few distinct error messages. */
  errorSamples: string[]
}

function checkOptions(options: LoadClientOptions): URL {
  requireInteger(options.numTests, '--num-tests', 1)
  requireInteger(options.concurrency, '--concurrency', 1)
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    throw new UserError(`--url ${options.url} is not a URL (expected e.g. http://127.0.0.1:5000)`)
  }
  if (GRPC_APIS.has(options.api)) {
    if (url.protocol !== 'grpc:') throw new UserError(`--api ${options.api} needs --url grpc://HOST:PORT (serve --grpc-port), got ${options.url}`)
  } else if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`--url must be http:// or https://, got ${options.url}`)
  return url
}

/**
 * JSON text of pixel values, memoised: MNIST pixels take 256 values, and formatting a double is
 * most of what building a request costs.
 */
class PixelText {
  private readonly texts = new Map<number, string>()

  of(value: number): string {
    let text = this.texts.get(value)
    if (text === undefined) {
      text = JSON.stringify(value)
      this.texts.set(value, text)
    }
    return text
  }

  /** `[p, p, …]` for `count` pixels from `offset`. */
  list(image: Float32Array, offset: number, count: number): string {
    let text = '['
    for (let i = 0; i < count; i++) text += (i === 0 ? '' : ',') + this.of(image[offset + i])
    return `${text}]`
  }
}

/** Where requests go and how an image becomes a body: flat for Flask, 28 rows of 28 for TF Serving. */
function endpointOf(base: URL, api: 'flask' | 'rest', modelName: string): {endpoint: string; bodyOf: (image: Float32Array) => string} {
  const root = base.href.replace(/\/+$/, '')
  const pixels = new PixelText()
  if (api === 'flask') return {endpoint: `${root}/`, bodyOf: (image) => `{"data":${pixels.list(image, 0, IMAGE_PIXELS)}}`}
  return {
    endpoint: `${root}/v1/models/${encodeURIComponent(modelName)}:predict`,
    bodyOf: (image) => {
      const rows: string[] = []
      for (let r = 0; r < IMAGE_ROWS; r++) rows.push(pixels.list(image, r * IMAGE_COLS, IMAGE_COLS))
      return `{"instances":[[${rows.join(',')}]]}`
    },
  }
}

function answerOf(api: 'flask' | 'rest', body: unknown): number[] {
  const answer = (typeof body === 'object' && body !== null ? body : {}) as {y?: unknown; predictions?: unknown}
  const rows = api === 'flask' ? answer.y : answer.predictions
  const row = Array.isArray(rows) ? rows[0] : undefined
  if (!Array.isArray(row) || row.length === 0 || !row.every((value) => typeof value === 'number')) {
    throw new Error(`unexpected answer: ${JSON.stringify(body).slice(0, 80)}`)
  }
  return row
}

/** One API's way to send an image and get its scores back (probabilities or logits: argmax is the same). */
interface Scorer {
  endpoint: string
  scores(image: Float32Array): Promise<ArrayLike<number>>
  close(): void
}

function scorerOf(api: ClientApi, base: URL, modelName: string, options: LoadClientOptions): Scorer {
  const deadlineMs = options.timeoutMs
  switch (api) {
    case 'grpc': {
      const client = new GrpcServingClient(grpcAddressOfUrl(base), modelName)
      return {
        endpoint: `grpc://${grpcAddressOfUrl(base)} tensorflow.serving.PredictionService/Predict`,
        scores: async (image) => (await client.predict(image, 1, {encoding: 'tensor_content', deadlineMs})).logits,
        close: () => client.close(),
      }
    }
    case 'v2-grpc': {
      const client = new V2GrpcClient(grpcAddressOfUrl(base), modelName)
      return {
        endpoint: `grpc://${grpcAddressOfUrl(base)} inference.GRPCInferenceService/ModelInfer`,
        scores: async (image) => (await client.infer(image, 1, {deadlineMs})).logits,
        close: () => client.close(),
      }
    }
    case 'v2':
    case 'v2-binary': {
      const encoding = api === 'v2' ? 'json' : 'binary'
      const client = new V2RestClient(base.href, {modelName, encoding, connections: options.concurrency, timeoutMs: options.timeoutMs})
      return {endpoint: client.endpoint, scores: async (image) => (await client.infer(image, 1)).logits, close: () => client.close()}
    }
    default: {
      const {endpoint, bodyOf} = endpointOf(base, api, modelName)
      const poster = new JsonPoster(endpoint, options.concurrency, options.timeoutMs)
      return {
        endpoint,
        scores: async (image) => {
          const {status, body} = await poster.post(bodyOf(image))
          if (status !== 200) throw new Error(`HTTP ${status}: ${(body as {error?: string} | undefined)?.error ?? 'no error message'}`)
          return answerOf(api, body)
        },
        close: () => poster.close(),
      }
    }
  }
}

function argmax(values: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i
  return best
}

/** Why a request failed, in one line: the server's {"error"} or the network error's code. */
function failureOf(error: unknown): string {
  const grpcFailure = grpcFailureOf(error)
  if (grpcFailure) return grpcFailure
  if (error instanceof RequestFailure) return error.code
  return errorMessage(error).split('\n')[0]
}

/**
 * The seed's client, grown up: sends real MNIST test images (one per request) to a running
 * server with `concurrency` requests in flight, and reports accuracy, errors, throughput and
 * latency percentiles.
 */
export async function runLoadClient(options: LoadClientOptions): Promise<LoadClientReport> {
  const base = checkOptions(options)
  const test = loadMnistSplit('test', options.dataDir, Math.min(options.numTests, MNIST_TEST_IMAGES))
  const modelName = options.modelName ?? DEFAULT_MODEL_NAME
  const scorer = scorerOf(options.api, base, modelName, options)
  const {endpoint} = scorer
  const latencies: number[] = []
  const errorSamples = new Set<string>()
  let next = 0
  let done = 0
  let correct = 0
  let errors = 0
  let unreachable = 0

  const sendOne = async (index: number) => {
    const slot = index % test.count
    const sent = performance.now()
    const image = test.images.subarray(slot * IMAGE_PIXELS, (slot + 1) * IMAGE_PIXELS)
    try {
      const scores = await scorer.scores(image)
      latencies.push(performance.now() - sent)
      if (argmax(scores) === test.labels[slot]) correct++
    } catch (error) {
      errors++
      const failure = failureOf(error)
      if (failure === 'ECONNREFUSED' || failure === 'ENOTFOUND') unreachable++
      if (errorSamples.size < ERROR_SAMPLES) errorSamples.add(failure)
    }
    options.onProgress?.(++done, options.numTests)
  }

  const started = performance.now()
  const lanes = Array.from({length: Math.min(options.concurrency, options.numTests)}, async () => {
    while (next < options.numTests) await sendOne(next++)
  })
  await Promise.all(lanes)
  scorer.close()
  const seconds = (performance.now() - started) / MS_PER_SECOND
  if (unreachable === options.numTests) throw new UserError(`cannot reach ${endpoint}: ${[...errorSamples][0]} (is mnist-rnn serve running?)`)

  const answered = latencies.length
  return {
    endpoint,
    api: options.api,
    concurrency: options.concurrency,
    requests: options.numTests,
    answered,
    correct,
    errors,
    accuracy: answered === 0 ? 0 : correct / answered,
    seconds,
    requestsPerSecond: answered / seconds,
    latencyMs: summarizeLatencies(latencies),
    errorSamples: [...errorSamples],
  }
}

/** The report as the lines `mnist-rnn client` prints. */
export function formatLoadClientReport(report: LoadClientReport): string[] {
  const ms = (value: number) => `${value.toFixed(1)} ms`
  const lines = [
    `Sent ${report.requests} test images to ${report.endpoint} (${report.api} API), ${report.concurrency} at a time`,
    `Accuracy:   ${(report.accuracy * 100).toFixed(2)}% (${report.correct}/${report.answered} answered)`,
    `Errors:     ${report.errors}`,
    `Throughput: ${report.requestsPerSecond.toFixed(1)} requests/s (${report.seconds.toFixed(2)} s)`,
    `Latency:    p50 ${ms(report.latencyMs.p50)}, p95 ${ms(report.latencyMs.p95)}, p99 ${ms(report.latencyMs.p99)}`,
  ]
  for (const sample of report.errorSamples) lines.push(`  error: ${sample}`)
  return lines
}

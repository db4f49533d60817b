import {GrpcPredictOptions, GrpcServingClient} from '../src/lib/serving/grpc-client.js'

export interface GrpcLoadOptions extends GrpcPredictOptions {
  /** Calls in flight at once. */
  concurrency: number
  durationMs: number
  /** Test images, [count, 784] row-major; request i sends image i mod count. */
  images: Float32Array
  imageCount: number
}

export interface LoadFigures {
  concurrency: number
  requests: number
  errors: number
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** The first error's message, if any. */
  firstError?: string
}

const PIXELS = 784

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]
}

/**
 * Drives single-image gRPC Predict calls at `concurrency` for `durationMs` over one channel, as
 * a client application would, and reports throughput and latency.
 */
export async function runGrpcLoad(address: string, options: GrpcLoadOptions): Promise<LoadFigures> {
  const client = new GrpcServingClient(address, options.modelName)
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  let next = 0
  const started = performance.now()
  const deadline = started + options.durationMs
  const worker = async () => {
    while (performance.now() < deadline) {
      const slot = next++ % options.imageCount
      const sent = performance.now()
      try {
        await client.predict(options.images.subarray(slot * PIXELS, (slot + 1) * PIXELS), 1, options)
        latencies.push(performance.now() - sent)
      } catch (error) {
        errors++
        firstError ??= error instanceof Error ? error.message : String(error)
      }
    }
  }
  await Promise.all(Array.from({length: options.concurrency}, worker))
  const elapsedSeconds = (performance.now() - started) / 1000
  client.close()
  latencies.sort((a, b) => a - b)
  return {
    concurrency: options.concurrency,
    requests: latencies.length + errors,
    errors,
    requestsPerSecond: latencies.length / elapsedSeconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    ...(firstError ? {firstError} : {}),
  }
}

export function formatLoadFigures(label: string, figures: LoadFigures): string {
  return (
    `${label.padEnd(24)} c=${String(figures.concurrency).padStart(2)}  ${figures.requestsPerSecond.toFixed(0).padStart(6)} req/s  ` +
    `p50 ${figures.p50Ms.toFixed(1).padStart(6)} ms  p99 ${figures.p99Ms.toFixed(1).padStart(6)} ms  errors ${figures.errors}` +
    (figures.firstError ? `  (first: ${figures.firstError})` : '')
  )
}

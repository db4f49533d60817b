/** Latency summary in milliseconds, nearest-rank percentiles. */
export interface LatencySummary {
  p50: number
  p95: number
  p99: number
  mean: number
  max: number
}

/** The value at `fraction` (0–1) of ascending `sorted`, by nearest rank; NaN when empty. */
export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil(fraction * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export function summarizeLatencies(latenciesMs: number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  const mean = sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length
  return {
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    mean,
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1],
  }
}

import * as tf from '@tensorflow/tfjs'
import {spawnSync} from 'node:child_process'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'

import {WASM_THREADS_ENV} from '../src/lib/backend.js'
import {IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES} from '../src/lib/core/image.js'

/** Seed of the benchmarks' classifier weights. */
export const WEIGHTS_SEED = 7

/** Flag that marks a benchmark process started by another one to measure one thread setting. */
export const CHILD_FLAG = '--child'

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Milliseconds of each call of fn; fn must finish its work before returning (read its result). */
export function timeCalls(fn: () => void, calls: number): number[] {
  const times: number[] = []
  for (let i = 0; i < calls; i++) {
    const start = performance.now()
    fn()
    times.push(performance.now() - start)
  }
  return times
}

/** Calls fn until both at least minCalls calls and minMs milliseconds have passed. */
export function timeFor(fn: () => void, minCalls: number, minMs: number): number[] {
  const times: number[] = []
  const start = performance.now()
  while (times.length < minCalls || performance.now() - start < minMs) times.push(...timeCalls(fn, 1))
  return times
}

/** Uniform random pixels and one-hot labels of random classes. */
export function randomBatch(batch: number, seed: number): {images: tf.Tensor3D; labels: tf.Tensor2D} {
  return tf.tidy(() => ({
    images: tf.randomUniform([batch, IMAGE_ROWS, IMAGE_COLS], 0, 1, 'float32', seed) as tf.Tensor3D,
    labels: tf.oneHot(tf.randomUniform([batch], 0, NUM_CLASSES, 'int32', seed + 1) as tf.Tensor1D, NUM_CLASSES) as tf.Tensor2D,
  }))
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column].length)))
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ')
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n')
}

/** The wasm thread settings to compare: single-threaded, and every core if there are more. */
export function defaultThreadSettings(): number[] {
  const cores = availableParallelism()
  return cores > 1 ? [1, cores] : [1]
}

export function parseThreadList(text: string): number[] {
  const threads = text.split(',').map((part) => Number(part.trim()))
  if (threads.some((count) => !Number.isInteger(count) || count < 1)) throw new Error(`--threads takes a comma-separated list of positive integers, got "${text}"`)
  return threads
}

/**
 * Runs the benchmark script again in a child process with the wasm backend on `threads` threads
 * (the build is chosen once per process) and returns what it printed as JSON on its last line.
 */
export function runChild<T>(scriptUrl: string, threads: number, args: string[]): T {
  const result = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(scriptUrl), CHILD_FLAG, ...args], {
    env: {...process.env, [WASM_THREADS_ENV]: String(threads)},
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  })
  if (result.status !== 0) throw new Error(`benchmark child (${threads} threads) exited with ${result.status ?? result.signal}`)
  const lines = result.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as T
}

export function fixed(value: number, digits = 1): string {
  return value.toFixed(digits)
}

import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {WASM_THREADS_ENV} from '../../src/lib/backend.js'

const CHILD = join(import.meta.dirname, 'fixtures', 'wasm-threads-child.ts')
const EXIT_TIMEOUT_MS = 90_000

function runChild(threads: number): Promise<{status: number | null; stdout: string; stderr: string; timedOut: boolean}> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {...process.env, [WASM_THREADS_ENV]: String(threads)},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({status, stdout, stderr, timedOut: signal === 'SIGKILL'})
    })
  })
}

describe('multithreaded wasm backend in Node', () => {
  it.each([2, 1])('runs on %i thread(s), computes what cpu does, and lets the process exit', async (threads) => {
    const result = await runChild(threads)
    expect(result.timedOut, 'the process did not exit by itself').toBe(false)
    expect(result.status, result.stderr).toBe(0)
    const lines = result.stdout.trim().split('\n')
    const report = JSON.parse(lines[lines.length - 1]) as {threads: number; maxDifference: number}
    expect(report.threads).toBe(threads)
    expect(report.maxDifference).toBeLessThan(1e-4)
  })
})

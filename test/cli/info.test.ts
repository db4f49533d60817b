import {describe, expect, it} from 'vitest'

import {linesOf, runCli} from '../helpers/cli.js'

describe('mnist-rnn (CLI)', () => {
  it('--help lists the commands', () => {
    const result = runCli(['--help'])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/info\s+Show the runtime/)
  })

  it('info --json names the backend auto picks and the bundled 60,000 / 10,000 images', () => {
    const result = runCli(['info', '--json'])
    expect(result.status).toBe(0)
    const info = JSON.parse(result.stdout)
    expect(['tensorflow', 'wasm', 'cpu']).toContain(info.autoBackend)
    expect(info.data.train).toEqual({images: 60_000, shape: [60_000, 28, 28]})
    expect(info.data.test).toEqual({images: 10_000, shape: [10_000, 28, 28]})
    expect(info.backends.map((probe: {name: string}) => probe.name)).toEqual(['tensorflow', 'wasm', 'cpu'])
  })

  it('info --json says which engines load and what --engine auto picks, and falls back to tfjs without onnxruntime-node', () => {
    const info = JSON.parse(runCli(['info', '--json']).stdout)
    expect(info.engines).toEqual([
      {name: 'onnxruntime', loads: true, version: expect.stringMatching(/^1\.\d+\.\d+$/)},
      {name: 'tfjs', loads: true, reason: `on backend ${info.autoBackend}`},
    ])
    expect(info.autoEngine.engine).toBe('onnxruntime')
    const without = JSON.parse(runCli(['info', '--json'], {env: {MNIST_RNN_NO_ONNXRUNTIME: '1'}}).stdout)
    expect(without.engines[0]).toEqual({name: 'onnxruntime', loads: false, reason: 'disabled by MNIST_RNN_NO_ONNXRUNTIME=1'})
    expect(without.autoEngine).toEqual({engine: 'tfjs', reason: 'onnxruntime-node does not load (disabled by MNIST_RNN_NO_ONNXRUNTIME=1)'})
  })

  it('a bad --data-dir exits non-zero with one clear line and no stack trace', () => {
    const result = runCli(['info', '--data-dir', '/definitely/not/here'])
    expect(result.status).toBe(1)
    const errorLines = linesOf(result.stderr)
    expect(errorLines).toEqual(['Error: data directory /definitely/not/here does not exist'])
  })
})

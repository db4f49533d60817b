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

  it('a bad --data-dir exits non-zero with one clear line and no stack trace', () => {
    const result = runCli(['info', '--data-dir', '/definitely/not/here'])
    expect(result.status).toBe(1)
    const errorLines = linesOf(result.stderr)
    expect(errorLines).toEqual(['Error: data directory /definitely/not/here does not exist'])
  })
})

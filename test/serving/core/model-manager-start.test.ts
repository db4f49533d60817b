import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {UserError} from '../../../src/lib/core/errors.js'
import {POLL_INTERVAL_MS, managerOf, modelDirectoryPerTest} from './model-dir.js'

const models = modelDirectoryPerTest()

describe('ModelManager start: the version it serves first', () => {
  it('serves the highest version, loaded into the engine, and reports it AVAILABLE', async () => {
    models().publish(1, 3, 2)
    const {manager, engine, served} = managerOf(models())
    await manager.start()
    expect(engine.calls).toEqual(['load 3'])
    expect(served).toEqual([3])
    expect(manager.metadata()).toMatchObject({modelName: 'mnist', version: 3, signatures: {serving_default: {methodName: 'tensorflow/serving/predict'}}})
    expect(manager.status()).toEqual([{version: 3, state: 'AVAILABLE', errorMessage: ''}])
  })

  it('skips a highest version that fails verification, logs why, and serves the next one', async () => {
    models().publish(1)
    models().publishCorrupt(2)
    const {manager, engine, warnings} = managerOf(models())
    await manager.start()
    expect(engine.calls).toEqual(['load 1'])
    expect(manager.metadata().version).toBe(1)
    expect(warnings).toEqual([expect.stringMatching(/^version 2 of mnist refused: weights\.bin fails its recorded sha256/)])
    expect(manager.status().map(({version, state}) => [version, state])).toEqual([
      [2, 'END'],
      [1, 'AVAILABLE'],
    ])
  })

  it('skips a version the engine cannot load and serves the next one', async () => {
    models().publish(1, 2)
    const {manager, engine, warnings} = managerOf(models())
    engine.failing.set(2, 'inference worker 0 died while loading it (out of memory)')
    await manager.start()
    expect(manager.metadata().version).toBe(1)
    expect(warnings).toEqual(['version 2 of mnist refused: inference worker 0 died while loading it (out of memory)'])
  })

  it('refuses to start, naming every failure, when no version can be served', async () => {
    models().publishCorrupt(1)
    models().publishPartly(2, ['model.json'])
    const {manager} = managerOf(models())
    const error = await manager.start().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as Error).message).toMatch(
      new RegExp(`^no servable version in ${models().dir}: version 2: .*; version 1: weights\\.bin fails its recorded sha256`),
    )
  })

  it('refuses to start on an empty, a missing or a non-folder model directory, with one line each', async () => {
    await expect(managerOf(models()).manager.start()).rejects.toThrow(`${models().dir} holds no model versions (export one: mnist-rnn export --export-dir ${models().dir})`)
    const missing = `${models().dir}-missing`
    await expect(managerOf(models(), {modelDir: missing}).manager.start()).rejects.toThrow(
      `model directory ${missing} does not exist (export a model first: mnist-rnn export)`,
    )
  })
})

describe('ModelManager start with specific versions (serve --version N, --versions specific:N)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('serves exactly that version, even with higher ones present or published later', async () => {
    models().publish(1, 2, 3)
    const {manager, engine} = managerOf(models(), {policy: {kind: 'specific', versions: [2]}})
    await manager.start()
    models().publish(7)
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS * 5)
    expect(engine.calls).toEqual(['load 2'])
    expect(manager.metadata().version).toBe(2)
    expect(manager.acquire(2).version).toBe(2)
    expect(() => manager.acquire(3)).toThrow('Servable not found for request: Specific(mnist, 3); available versions: 2')
  })

  it('refuses to start when no version it names is on disk, or none can be served', async () => {
    models().publish(1)
    models().publishCorrupt(2)
    await expect(managerOf(models(), {policy: {kind: 'specific', versions: [7]}}).manager.start()).rejects.toThrow(`${models().versionPath(7)}: no such version`)
    await expect(managerOf(models(), {policy: {kind: 'specific', versions: [7, 8]}}).manager.start()).rejects.toThrow(
      `no version in ${models().dir} fits --versions specific:7,8 (versions here: 1, 2)`,
    )
    const corrupt = managerOf(models(), {policy: {kind: 'specific', versions: [2]}})
    await expect(corrupt.manager.start()).rejects.toThrow(new RegExp(`^no servable version in ${models().dir}: version 2: weights\\.bin fails its recorded sha256`))
    expect(corrupt.engine.calls).toEqual([])
  })
})

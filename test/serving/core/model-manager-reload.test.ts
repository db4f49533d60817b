import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {POLL_INTERVAL_MS, managerOf, modelDirectoryPerTest} from './model-dir.js'

const models = modelDirectoryPerTest(1)

const stateOf = (statuses: Array<{version: number; state: string}>) => statuses.map(({version, state}) => [version, state])

describe('ModelManager: newer versions replace the served one (the "latest" policy)', () => {
  it('loads a newer version, swaps it in, and unloads the old one at once when no request holds it', async () => {
    const {manager, engine, served, lines} = managerOf(models())
    await manager.start()
    models().publish(2)
    await manager.poll()
    expect(engine.calls).toEqual(['load 1', 'load 2', 'unload 1'])
    expect(served).toEqual([1, 2])
    expect(lines).toContain('serving mnist version 2 (replaces version 1)')
    expect(stateOf(manager.status())).toEqual([
      [2, 'AVAILABLE'],
      [1, 'END'],
    ])
  })

  it('keeps the old version loaded for requests that hold it, and unloads it after the last one', async () => {
    const {manager, engine} = managerOf(models())
    await manager.start()
    const first = manager.acquire()
    const second = manager.acquire()
    models().publish(2)
    await manager.poll()
    expect(manager.acquire().version).toBe(2)
    expect(stateOf(manager.status())).toEqual([
      [2, 'AVAILABLE'],
      [1, 'UNLOADING'],
    ])
    first.release()
    first.release()
    expect(engine.loaded).toEqual(new Set([1, 2]))
    second.release()
    expect(engine.loaded).toEqual(new Set([2]))
    expect(manager.status(1)).toEqual([{version: 1, state: 'END', errorMessage: ''}])
  })

  it('answers NOT_FOUND for a version no longer served, and for another model name', async () => {
    const {manager} = managerOf(models())
    await manager.start()
    models().publish(2)
    await manager.poll()
    expect(() => manager.acquire(1)).toThrow(expect.objectContaining({code: 'NOT_FOUND', message: 'Servable not found for request: Specific(mnist, 1); available versions: 2'}))
    expect(() => manager.checkModelName('fashion')).toThrow(expect.objectContaining({code: 'NOT_FOUND', message: 'Servable not found for request: Latest(fashion)'}))
    expect(() => manager.status(9)).toThrow('Could not find version 9 of model mnist')
  })

  it('ignores lower versions, temporary folders and names that are not versions', async () => {
    models().publish(3)
    const {manager, engine} = managerOf(models())
    await manager.start()
    models().publish(2)
    for (const name of ['.tmp-export-123-abc', '04', 'latest']) models().publishAs(name)
    await manager.poll()
    expect(engine.calls).toEqual(['load 3'])
  })

  it('while a newer version loads, requests keep getting the served one', async () => {
    const {manager, engine} = managerOf(models())
    await manager.start()
    models().publish(2)
    engine.hold()
    const polling = manager.poll()
    await vi.waitFor(() => expect(engine.calls).toContain('load 2'))
    expect(manager.acquire().version).toBe(1)
    expect(stateOf(manager.status())).toEqual([
      [2, 'LOADING'],
      [1, 'AVAILABLE'],
    ])
    engine.release()
    await polling
    expect(manager.acquire().version).toBe(2)
  })
})

describe('ModelManager: versions that fail', () => {
  it('refuses a corrupt newer version, says why in its status and the log, and keeps serving the old one', async () => {
    const {manager, engine, warnings} = managerOf(models())
    await manager.start()
    models().publishCorrupt(2)
    await manager.poll()
    expect(manager.acquire().version).toBe(1)
    expect(engine.calls).toEqual(['load 1'])
    const [refused] = manager.status(2)
    expect(refused.state).toBe('END')
    expect(refused.errorMessage).toMatch(/^weights\.bin fails its recorded sha256/)
    expect(warnings).toEqual([expect.stringMatching(/^version 2 of mnist refused: weights\.bin fails its recorded sha256.*; still serving version 1$/)])
  })

  it('does not try a refused version again until its folder changes, then serves it', async () => {
    const {manager, warnings} = managerOf(models())
    await manager.start()
    models().publishPartly(2, ['model.json', 'signature.json'])
    await manager.poll()
    await manager.poll()
    expect(warnings).toEqual([expect.stringMatching(/^version 2 of mnist refused: missing weights\.bin \(incomplete export\); still serving version 1$/)])
    models().complete(2)
    await manager.poll()
    expect(manager.acquire().version).toBe(2)
    expect(manager.status(2)).toEqual([{version: 2, state: 'AVAILABLE', errorMessage: ''}])
  })

  it('falls back to the highest newer version that works', async () => {
    const {manager, engine} = managerOf(models())
    await manager.start()
    models().publish(2)
    models().publish(3)
    engine.failing.set(3, 'cannot allocate')
    await manager.poll()
    expect(engine.calls).toEqual(['load 1', 'load 3', 'load 2', 'unload 1'])
    expect(manager.acquire().version).toBe(2)
  })
})

describe('ModelManager: polling', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('looks for new versions every poll interval, and no more once stopped', async () => {
    const {manager, served} = managerOf(models())
    await manager.start()
    models().publish(2)
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS - 1)
    expect(served).toEqual([1])
    await vi.advanceTimersByTimeAsync(1)
    expect(served).toEqual([1, 2])
    manager.stop()
    models().publish(3)
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS * 3)
    expect(served).toEqual([1, 2])
  })
})

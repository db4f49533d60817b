import {describe, expect, it, vi} from 'vitest'

import {UserError} from '../../../src/lib/core/errors.js'
import {managerOf, modelDirectoryPerTest} from './model-dir.js'

const models = modelDirectoryPerTest()

const stateOf = (statuses: Array<{version: number; state: string}>) => statuses.map(({version, state}) => [version, state])

describe('ModelManager: the file system is the source of truth', () => {
  it('a removed served version is replaced by the highest remaining one, loaded before the removed one is unloaded', async () => {
    models().publish(1, 2, 3)
    const {manager, engine, lines} = managerOf(models())
    await manager.start()
    models().remove(3)
    engine.hold()
    const polling = manager.poll()
    await vi.waitFor(() => expect(engine.calls).toContain('load 2'))
    const during = manager.acquire()
    expect(during.version).toBe(3)
    during.release()
    engine.release()
    await polling
    expect(engine.calls).toEqual(['load 3', 'load 2', 'unload 3'])
    expect(manager.acquire().version).toBe(2)
    expect(lines).toEqual(['unloading version 3 of mnist: its folder was removed', 'serving mnist version 2 (replaces version 3)'])
  })

  it('with no valid version left, the last one keeps serving, said once in the log and in its status, until a valid one appears', async () => {
    models().publish(1)
    const {manager, engine, warnings} = managerOf(models())
    await manager.start()
    models().clear()
    models().publishCorrupt(2)
    await manager.poll()
    await manager.poll()
    const kept = 'its folder was removed, but no other version can be served: still serving it until one can'
    expect(manager.status()).toEqual([
      {version: 2, state: 'END', errorMessage: expect.stringMatching(/^weights\.bin fails its recorded sha256/)},
      {version: 1, state: 'AVAILABLE', errorMessage: kept},
    ])
    expect(warnings.filter((line) => line.includes('no other version can be served'))).toEqual([
      'mnist version 1: its folder was removed, but no other version can be served; still serving it until one can',
    ])
    const lease = manager.acquire()
    expect(lease.version).toBe(1)
    lease.release()

    models().publish(3)
    await manager.poll()
    expect(manager.metadata().version).toBe(3)
    expect(engine.calls).toEqual(['load 1', 'load 3', 'unload 1'])
    expect(stateOf(manager.status())).toEqual([
      [3, 'AVAILABLE'],
      [2, 'END'],
      [1, 'END'],
    ])
  })

  it('a version held by a request when it is unloaded, then published again, stays loaded', async () => {
    models().publish(1, 2)
    const {manager, engine} = managerOf(models())
    await manager.start()
    const held = manager.acquire()
    models().remove(2)
    await manager.poll()
    expect(stateOf(manager.status(2))).toEqual([[2, 'UNLOADING']])
    models().publish(2)
    await manager.poll()
    held.release()
    expect(manager.acquire().version).toBe(2)
    expect(engine.loaded).toEqual(new Set([2]))
    expect(stateOf(manager.status())).toEqual([
      [2, 'AVAILABLE'],
      [1, 'END'],
    ])
  })
})

describe('ModelManager: version policies', () => {
  it('latest:2 keeps the two highest AVAILABLE; a new version retires the lowest', async () => {
    models().publish(1, 2, 3)
    const {manager, engine} = managerOf(models(), {policy: {kind: 'latest', numVersions: 2}})
    await manager.start()
    expect(manager.availableVersions()).toEqual([3, 2])
    models().publish(4)
    await manager.poll()
    expect(manager.availableVersions()).toEqual([4, 3])
    expect(engine.calls).toEqual(['load 3', 'load 2', 'load 4', 'unload 2'])
    expect(manager.acquire(3).version).toBe(3)
  })

  it('all serves every valid version; each is addressable; removing one unloads only it', async () => {
    models().publish(1, 2)
    models().publishCorrupt(3)
    const {manager} = managerOf(models(), {policy: {kind: 'all'}})
    await manager.start()
    expect(manager.availableVersions()).toEqual([2, 1])
    expect([manager.acquire(1).version, manager.acquire(2).version, manager.acquire().version]).toEqual([1, 2, 2])
    models().remove(1)
    await manager.poll()
    expect(manager.availableVersions()).toEqual([2])
    expect(() => manager.acquire(1)).toThrow(expect.objectContaining({code: 'NOT_FOUND'}))
  })
})

describe('ModelManager: labels', () => {
  it('a label reaches its version; an unknown label is INVALID_ARGUMENT as in TF Serving', async () => {
    models().publish(1, 2)
    const {manager} = managerOf(models(), {policy: {kind: 'all'}, labels: {stable: 1, canary: 2}})
    await manager.start()
    expect(manager.acquire({label: 'stable'}).version).toBe(1)
    expect(manager.metadata({label: 'canary'}).version).toBe(2)
    expect(manager.status({label: 'stable'})).toEqual([{version: 1, state: 'AVAILABLE', errorMessage: ''}])
    expect(manager.versionLabels()).toEqual({canary: 2, stable: 1})
    expect(() => manager.acquire({label: 'beta'})).toThrow(expect.objectContaining({code: 'INVALID_ARGUMENT', message: 'Unrecognized servable version label: beta'}))
  })

  it('refuses to start when a label names a version that is not AVAILABLE', async () => {
    models().publish(1, 2)
    const error = await managerOf(models(), {labels: {canary: 1}})
      .manager.start()
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as Error).message).toBe('--label: label canary names version 1 of mnist, which is not available (available: 2)')
  })
})

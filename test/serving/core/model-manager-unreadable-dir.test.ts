import {rmSync, writeFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'

import {managerOf, modelDirectoryPerTest} from './model-dir.js'

const models = modelDirectoryPerTest(1)

// Tests run as root, whom chmod does not stop: the directory really goes away, or becomes a file.
describe('ModelManager: the model directory becomes unreadable while it polls', () => {
  it('removed: keeps serving the loaded version, logs why, and picks up versions once it is back', async () => {
    const {manager, engine, warnings} = managerOf(models())
    await manager.start()
    rmSync(models().dir, {recursive: true})
    await manager.poll()
    expect(warnings).toEqual([`cannot read ${models().dir}: no such file or folder; still serving version 1`])
    expect(manager.acquire().version).toBe(1)
    expect(engine.loaded).toEqual(new Set([1]))
    expect(manager.status()).toEqual([{version: 1, state: 'AVAILABLE', errorMessage: ''}])

    models().clear()
    models().publish(2)
    await manager.poll()
    expect(manager.acquire().version).toBe(2)
  })

  it('replaced by a file: keeps serving the loaded version and logs why', async () => {
    const {manager, warnings} = managerOf(models())
    await manager.start()
    rmSync(models().dir, {recursive: true})
    writeFileSync(models().dir, 'not a folder')
    await manager.poll()
    expect(warnings).toEqual([`cannot read ${models().dir}: ENOTDIR: not a directory, scandir '${models().dir}'; still serving version 1`])
    expect(manager.acquire().version).toBe(1)
    rmSync(models().dir)
  })
})

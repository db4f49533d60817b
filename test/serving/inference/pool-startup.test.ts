import {describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/core/errors.js'
import {InferencePool} from '../../../src/lib/serving/inference/pool.js'
import {recordingLog} from '../../helpers/serving-log.js'
import {idsOf, imagesWithIds} from '../fake-logits.js'
import {FakeWorkers, TFJS_ENGINE} from './fake-worker.js'

const NOT_INSTALLED = 'tensorflow: the optional package @tensorflow/tfjs-node is not installed'

function poolOf(workers: FakeWorkers, count = 2) {
  const recorded = recordingLog()
  const pool = new InferencePool({...TFJS_ENGINE, workers: count, backend: 'tensorflow', warmBatchSize: 16, log: recorded.log, startWorker: workers.start})
  return {pool, ...recorded}
}

describe('InferencePool start-up', () => {
  it('starts every worker with the backend and warm-up size asked for, and resolves with the backend they chose', async () => {
    const workers = new FakeWorkers()
    const {pool} = poolOf(workers, 3)
    expect(await pool.start()).toBe('wasm')
    expect(workers.started.map((worker) => worker.workerData)).toEqual(Array(3).fill({...TFJS_ENGINE, backend: 'tensorflow', warmBatchSize: 16}))
    await pool.close()
    expect(workers.alive).toEqual([])
  })

  it('a worker that cannot start: start() fails with one line naming the worker and why, and that worker is ended', async () => {
    const workers = new FakeWorkers()
    workers.script.startup = (worker) => (worker.serial === 1 ? {failed: NOT_INSTALLED} : {backend: 'wasm'})
    const {pool} = poolOf(workers)
    const error = await pool.start().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as Error).message).toBe(`inference worker 1 cannot start: ${NOT_INSTALLED}`)
    expect(workers.started[1].exited).toBe(true)
    await pool.close()
    expect(workers.alive).toEqual([])
  })

  it('a worker that exits before saying whether it started: start() fails with one line', async () => {
    const workers = new FakeWorkers()
    workers.script.startup = () => 'exit'
    const {pool} = poolOf(workers, 1)
    await expect(pool.start()).rejects.toThrow(new UserError('inference worker 0 exited while starting (exit code 1)'))
    await pool.close()
  })

  it('a restarted worker that cannot start is logged (and tried again later), not thrown: the others keep serving', async () => {
    const workers = new FakeWorkers()
    const {pool, errors} = poolOf(workers)
    await pool.start()
    await pool.load({version: 1, hidden: 16, weights: {} as never})
    workers.script.startup = () => ({failed: NOT_INSTALLED})
    workers.started[0].crash()
    await expect.poll(() => errors).toContain(`inference worker 0 cannot start: ${NOT_INSTALLED}`)
    expect(idsOf(await pool.run(1, imagesWithIds([4]), 1))).toEqual([4])
    expect(workers.started[1].runs).toEqual([[1, 1]])
    await pool.close()
  })
})

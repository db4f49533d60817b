import {afterEach, describe, expect, it} from 'vitest'

import {ServingError} from '../../../src/lib/serving/api.js'
import {InferencePool} from '../../../src/lib/serving/inference/pool.js'
import {VerifiedVersion} from '../../../src/lib/serving/inference/model-runner.js'
import {recordingLog} from '../../helpers/serving-log.js'
import {idsOf, imagesWithIds, versionOfLogits} from '../fake-logits.js'
import {FAKE_TENSORS_PER_VERSION, FakeWorkers, TFJS_ENGINE} from './fake-worker.js'

/** The pool passes weights through untouched; the fake workers never read them. */
const modelOf = (version: number): VerifiedVersion => ({version, hidden: 16, weights: {} as VerifiedVersion['weights']})

const pools: InferencePool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()))
})

async function startedPool(workers: FakeWorkers, count = 2) {
  const recorded = recordingLog()
  const pool = new InferencePool({...TFJS_ENGINE, workers: count, backend: 'wasm', warmBatchSize: 8, log: recorded.log, startWorker: workers.start})
  pools.push(pool)
  await pool.start()
  return {pool, ...recorded}
}

const run = (pool: InferencePool, version: number, ids: number[]) => pool.run(version, imagesWithIds(ids), ids.length)

describe('InferencePool: loading and running batches', () => {
  it('loads a version into every worker, and runs batches one per free worker, queueing the rest', async () => {
    const workers = new FakeWorkers()
    workers.script.onRun = () => 'hold'
    const {pool} = await startedPool(workers)
    await pool.load(modelOf(1))
    expect(workers.started.map((worker) => [...worker.versions])).toEqual([[1], [1]])

    const answers = [run(pool, 1, [1, 2]), run(pool, 1, [3]), run(pool, 1, [4, 5, 6])]
    await expect.poll(() => workers.started.map((worker) => worker.runs)).toEqual([[[1, 2]], [[1, 1]]])
    workers.started[0].release()
    await expect.poll(() => workers.started[0].runs).toEqual([
      [1, 2],
      [1, 3],
    ])
    workers.script.onRun = () => 'answer'
    for (const worker of workers.started) worker.release()
    expect((await Promise.all(answers)).map(idsOf)).toEqual([[1, 2], [3], [4, 5, 6]])
  })

  it('runs each batch on the version asked for', async () => {
    const workers = new FakeWorkers()
    const {pool} = await startedPool(workers)
    await pool.load(modelOf(1))
    await pool.load(modelOf(2))
    expect((await Promise.all([run(pool, 2, [1]), run(pool, 1, [2])])).map(versionOfLogits)).toEqual([2, 1])
  })

  it('a batch a worker cannot run fails as INTERNAL with the worker’s reason; the worker keeps serving', async () => {
    const workers = new FakeWorkers()
    const {pool} = await startedPool(workers, 1)
    await pool.load(modelOf(1))
    workers.script.onRun = (_worker, request) => (request.count === 3 ? {error: 'non-finite logits'} : 'answer')
    const error = await run(pool, 1, [1, 2, 3]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServingError)
    expect(error).toMatchObject({code: 'INTERNAL', message: 'inference failed: non-finite logits'})
    expect(idsOf(await run(pool, 1, [4]))).toEqual([4])
    expect(workers.started).toHaveLength(1)
  })

  it('a version that fails to load in one worker is refused and unloaded from the others', async () => {
    const workers = new FakeWorkers()
    workers.script.onLoad = (worker) => (worker.serial === 1 ? {error: 'version 1 warm-up gave non-finite logits'} : 'answer')
    const {pool} = await startedPool(workers)
    await expect(pool.load(modelOf(1))).rejects.toThrow('version 1 warm-up gave non-finite logits')
    await expect.poll(() => workers.started[0].versions.size).toBe(0)
    await expect(run(pool, 1, [1])).rejects.toMatchObject({code: 'NOT_FOUND', message: 'version 1 is no longer loaded'})
  })

  it('unloading a version drops it from every worker; batches still waiting for it get NOT_FOUND', async () => {
    const workers = new FakeWorkers()
    const {pool} = await startedPool(workers, 1)
    await pool.load(modelOf(1))
    await pool.load(modelOf(2))
    workers.script.onRun = () => 'hold'
    const running = run(pool, 1, [1])
    const waiting = run(pool, 1, [2])
    await expect.poll(() => workers.started[0].runs).toHaveLength(1)
    pool.unload(1)
    workers.started[0].release()
    // The batch already sent finishes; the unload reaches the worker after it, in order.
    expect(idsOf(await running)).toEqual([1])
    await expect(waiting).rejects.toMatchObject({code: 'NOT_FOUND'})
    await expect.poll(() => [...workers.started[0].versions]).toEqual([2])
    expect(workers.started[0].requests.map((request) => request.type)).toEqual(['load', 'load', 'run', 'unload'])
  })

  it('counts the tensors the workers last reported', async () => {
    const workers = new FakeWorkers()
    const {pool} = await startedPool(workers)
    await pool.load(modelOf(1))
    await pool.load(modelOf(2))
    expect(pool.numTensors).toBe(2 * 2 * FAKE_TENSORS_PER_VERSION)
  })

  it('close() answers waiting batches UNAVAILABLE, refuses new ones and ends every worker', async () => {
    const workers = new FakeWorkers()
    const {pool} = await startedPool(workers, 1)
    await pool.load(modelOf(1))
    workers.script.onRun = () => 'hold'
    const running = run(pool, 1, [1])
    const waiting = run(pool, 1, [2])
    await pool.close()
    const shuttingDown = {code: 'UNAVAILABLE', message: 'the server is shutting down', retryAfterSeconds: 1}
    await expect(running).rejects.toMatchObject(shuttingDown)
    await expect(waiting).rejects.toMatchObject(shuttingDown)
    await expect(run(pool, 1, [3])).rejects.toMatchObject(shuttingDown)
    expect(workers.alive).toEqual([])
    expect(pool.restarts).toBe(0)
  })
})

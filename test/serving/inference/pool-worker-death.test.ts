import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {ServingError} from '../../../src/lib/serving/api.js'
import {InferencePool} from '../../../src/lib/serving/inference/pool.js'
import {VerifiedVersion} from '../../../src/lib/serving/inference/model-runner.js'
import {recordingLog} from '../../helpers/serving-log.js'
import {idsOf, imagesWithIds} from '../fake-logits.js'
import {FakeWorkers, TFJS_ENGINE} from './fake-worker.js'

const modelOf = (version: number): VerifiedVersion => ({version, hidden: 16, weights: {} as VerifiedVersion['weights']})
const FIRST_RESTART_DELAY_MS = 50
/** An image id that kills whichever worker runs it. */
const POISON = 99

let pool: InferencePool | undefined

// Restart delays are exact: the clock moves only when a test moves it.
beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(async () => {
  await pool?.close()
  pool = undefined
  vi.useRealTimers()
})

/** A pool of `count` fake workers with version 1 loaded; restarts counted as the server counts them. */
async function servingPool(workers: FakeWorkers, count = 2) {
  const recorded = recordingLog()
  const restarts: number[] = []
  pool = new InferencePool({...TFJS_ENGINE, workers: count, backend: 'wasm', warmBatchSize: 8, log: recorded.log, startWorker: workers.start}, () => restarts.push(1))
  await pool.start()
  await pool.load(modelOf(1))
  return {pool, restarts, ...recorded}
}

const run = (ids: number[]) => pool!.run(1, imagesWithIds(ids), ids.length)

describe('InferencePool: a worker that dies', () => {
  it('mid-batch: the batch is run again on another worker, its caller gets the answer, and the death is logged', async () => {
    const workers = new FakeWorkers()
    workers.script.onRun = (worker) => (worker.serial === 0 ? 'hold' : 'answer')
    const {restarts, errors} = await servingPool(workers)
    const answer = run([7, 8])
    await vi.waitFor(() => expect(workers.started[0].runs).toEqual([[1, 2]]))
    workers.started[0].crash(new Error('RuntimeError: memory access out of bounds\n    at wasm-function[123]'))
    expect(idsOf(await answer)).toEqual([7, 8])
    expect(workers.started[1].runs).toEqual([[1, 2]])
    expect(errors).toEqual([
      `inference worker 0 died (RuntimeError: memory access out of bounds); its batch of 2 is run again on another worker; restarting it in ${FIRST_RESTART_DELAY_MS} ms`,
    ])
    expect(restarts).toHaveLength(1)
    expect(pool!.restarts).toBe(1)
  })

  it('is restarted after the restart delay with the served versions loaded, and takes batches again', async () => {
    const workers = new FakeWorkers()
    const {pool: serving} = await servingPool(workers, 1)
    workers.started[0].crash()
    await vi.advanceTimersByTimeAsync(FIRST_RESTART_DELAY_MS - 1)
    expect(workers.started).toHaveLength(1)
    const waiting = run([3])
    await vi.advanceTimersByTimeAsync(1)
    expect(workers.started).toHaveLength(2)
    expect(idsOf(await waiting)).toEqual([3])
    expect(workers.started[1].requests.map((request) => request.type)).toEqual(['load', 'run'])
    expect(serving.restarts).toBe(1)
  })

  it('waits twice as long after each further death in a row, and starts again from the first delay after a batch succeeds', async () => {
    const workers = new FakeWorkers()
    const {errors} = await servingPool(workers, 1)
    const delays = () => errors.map((line) => Number(/restarting it in (\d+) ms$/.exec(line)![1]))
    for (const wait of [50, 100, 200]) {
      workers.alive[0].crash()
      await vi.advanceTimersByTimeAsync(wait)
    }
    expect(delays()).toEqual([50, 100, 200])
    expect(idsOf(await run([1]))).toEqual([1])
    workers.alive[0].crash()
    await vi.advanceTimersByTimeAsync(FIRST_RESTART_DELAY_MS)
    expect(delays()).toEqual([50, 100, 200, 50])
  })
})

describe('InferencePool: a batch that kills a second worker', () => {
  it('fails: its caller gets INTERNAL naming why, it is logged, and the pool keeps serving other batches', async () => {
    const workers = new FakeWorkers()
    workers.script.onRun = (_worker, request) => (request.images[0] === POISON ? 'die' : 'answer')
    const {errors} = await servingPool(workers)
    const error = await run([POISON]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServingError)
    expect(error).toMatchObject({code: 'INTERNAL', message: 'the batch was running on two inference workers that died (exit code 1)'})
    expect(errors).toEqual([
      `inference worker 0 died (exit code 1); its batch of 1 is run again on another worker; restarting it in 50 ms`,
      `inference worker 1 died (exit code 1); its batch of 1 failed twice and is answered with an error; restarting it in 100 ms`,
    ])
    const next = run([5])
    await vi.advanceTimersByTimeAsync(50)
    expect(idsOf(await next)).toEqual([5])
    await vi.advanceTimersByTimeAsync(50)
    expect(workers.alive).toHaveLength(2)
    expect(pool!.restarts).toBe(2)
  })
})

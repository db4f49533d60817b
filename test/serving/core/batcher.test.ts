import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {BatchRecord, Batcher, BatcherOptions, RunBatch} from '../../../src/lib/serving/core/batcher.js'
import {ServingError} from '../../../src/lib/serving/api.js'
import {fakeLogits, idsOf, imagesWithIds} from '../fake-logits.js'

/** A runBatch that answers at once, recording each pass's version and image count. */
function instantRunner() {
  const passes: Array<{version: number; count: number}> = []
  const run: RunBatch = async (version, images, count) => {
    passes.push({version, count})
    return fakeLogits(version, images, count)
  }
  return {run, passes, counts: () => passes.map((pass) => pass.count)}
}

/** A runBatch that holds every pass until release(), recording what each pass held. */
function gatedRunner() {
  const passes: Array<{version: number; count: number}> = []
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => (open = resolve))
  const run: RunBatch = async (version, images, count) => {
    passes.push({version, count})
    await gate
    return fakeLogits(version, images, count)
  }
  return {run, passes, counts: () => passes.map((pass) => pass.count), release: () => open()}
}

function submitIds(batcher: Batcher, ids: number[], version = 1): Promise<Float32Array> {
  return batcher.submit(version, imagesWithIds(ids), ids.length)
}

const BATCH_TIMEOUT_MS = 5
const options: BatcherOptions = {maxBatchSize: 8, batchTimeoutMs: BATCH_TIMEOUT_MS, maxQueue: 100, maxConcurrentBatches: 1, mergeRequests: true}

// The clock only moves when a test moves it: what waits and what leaves at once is exact.
beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('Batcher: merging', () => {
  it('merges concurrent requests into one pass and gives every caller exactly its own rows, in order', async () => {
    const batches: BatchRecord[] = []
    const runner = instantRunner()
    const batcher = new Batcher(options, runner.run, (batch) => batches.push(batch))
    const requests = [[1], [2, 3], [4], [5, 6, 7]]
    const results = Promise.all(requests.map((ids) => submitIds(batcher, ids)))
    await vi.advanceTimersByTimeAsync(0)
    expect((await results).map(idsOf)).toEqual(requests)
    expect(runner.counts()).toEqual([7])
    expect(batches).toEqual([{images: 7, requests: 4}])
  })

  it('closes a batch as soon as it is full and starts the next with what is left', async () => {
    const runner = gatedRunner()
    const batcher = new Batcher({...options, maxConcurrentBatches: 2}, runner.run)
    const pending = [1, 2, 3, 4, 5].map((id) => submitIds(batcher, [id, id + 10, id + 20]))
    // 3 + 3 fit in 8, a third request would not: two full passes leave without any time passing.
    expect(runner.counts()).toEqual([6, 6])
    runner.release()
    await vi.advanceTimersByTimeAsync(BATCH_TIMEOUT_MS)
    expect((await Promise.all(pending)).map(idsOf)).toEqual([1, 2, 3, 4, 5].map((id) => [id, id + 10, id + 20]))
    expect(runner.counts()).toEqual([6, 6, 3])
  })

  it('never merges requests for different versions', async () => {
    const runner = instantRunner()
    const batcher = new Batcher(options, runner.run)
    const answers = Promise.all([submitIds(batcher, [1], 1), submitIds(batcher, [2], 2), submitIds(batcher, [3], 1)])
    await vi.runAllTimersAsync()
    const [a, b, c] = await answers
    expect([a[0], b[0], c[0]]).toEqual([1010, 2020, 1030])
    expect(runner.passes).toEqual([
      {version: 1, count: 2},
      {version: 2, count: 1},
    ])
  })

  it('with merging off (--no-batching) runs one pass per request', async () => {
    const runner = instantRunner()
    const batcher = new Batcher({...options, mergeRequests: false}, runner.run)
    const results = Promise.all([[1], [2, 3], [4]].map((ids) => submitIds(batcher, ids)))
    await vi.advanceTimersByTimeAsync(0)
    expect((await results).map(idsOf)).toEqual([[1], [2, 3], [4]])
    expect(runner.counts()).toEqual([1, 2, 1])
  })
})

describe('Batcher: waiting', () => {
  it('does not hold a request that finds every worker idle for the batch timeout', async () => {
    const runner = instantRunner()
    const batcher = new Batcher({...options, batchTimeoutMs: 2 ** 31 - 1}, runner.run)
    const alone = submitIds(batcher, [1])
    await vi.advanceTimersByTimeAsync(0)
    expect(idsOf(await alone)).toEqual([1])
    // Requests submitted together still share the pass.
    const together = Promise.all([submitIds(batcher, [2]), submitIds(batcher, [3])])
    await vi.advanceTimersByTimeAsync(0)
    expect((await together).map(idsOf)).toEqual([[2], [3]])
    expect(runner.counts()).toEqual([1, 2])
  })

  it('while a worker is busy, closes a partial batch once its oldest request has waited the batch timeout', async () => {
    const runner = gatedRunner()
    const batcher = new Batcher({...options, maxConcurrentBatches: 2}, runner.run)
    const busy = submitIds(batcher, [1])
    await vi.advanceTimersByTimeAsync(0)
    expect(runner.counts()).toEqual([1])

    const waiting = [submitIds(batcher, [2])]
    await vi.advanceTimersByTimeAsync(BATCH_TIMEOUT_MS - 1)
    waiting.push(submitIds(batcher, [3]))
    expect(runner.counts()).toEqual([1])
    await vi.advanceTimersByTimeAsync(1)
    expect(runner.counts()).toEqual([1, 2])
    runner.release()
    expect((await Promise.all([busy, ...waiting])).map(idsOf)).toEqual([[1], [2], [3]])
  })

  it('lets requests gather while the only worker is busy, then runs them together', async () => {
    const runner = gatedRunner()
    const batcher = new Batcher({...options, batchTimeoutMs: 0}, runner.run)
    const first = submitIds(batcher, [1])
    expect(runner.counts()).toEqual([1])
    const later = [2, 3, 4].map((id) => submitIds(batcher, [id]))
    await vi.advanceTimersByTimeAsync(BATCH_TIMEOUT_MS)
    expect(batcher.queuedRequests).toBe(3)
    runner.release()
    expect(idsOf(await first)).toEqual([1])
    expect((await Promise.all(later)).map(idsOf)).toEqual([[2], [3], [4]])
    expect(runner.counts()).toEqual([1, 3])
  })
})

describe('Batcher: refusals and failures', () => {
  it('answers UNAVAILABLE with a retry delay when the queue is full, and serves the queued ones', async () => {
    const runner = gatedRunner()
    const batcher = new Batcher({...options, maxQueue: 2, batchTimeoutMs: 0}, runner.run)
    const running = submitIds(batcher, [1])
    const queued = [submitIds(batcher, [2]), submitIds(batcher, [3])]
    await expect(submitIds(batcher, [4])).rejects.toMatchObject({code: 'UNAVAILABLE', retryAfterSeconds: 1})
    runner.release()
    expect(idsOf(await running)).toEqual([1])
    expect((await Promise.all(queued)).map(idsOf)).toEqual([[2], [3]])
  })

  it('refuses a request larger than the batch limit as INVALID_ARGUMENT', async () => {
    const batcher = new Batcher(options, instantRunner().run)
    const error = await submitIds(batcher, [1, 2, 3, 4, 5, 6, 7, 8, 9]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServingError)
    expect(error).toMatchObject({code: 'INVALID_ARGUMENT', message: 'batch of 9 images is over the limit of 8 per request'})
  })

  it('a failed pass fails only the requests in it; the next batch runs normally', async () => {
    let calls = 0
    const batcher = new Batcher({...options, mergeRequests: false}, async (version, images, count) => {
      if (calls++ === 0) throw new Error('boom')
      return fakeLogits(version, images, count)
    })
    const settled = Promise.allSettled([submitIds(batcher, [1]), submitIds(batcher, [2])])
    await vi.advanceTimersByTimeAsync(0)
    const [failed, fine] = await settled
    expect(failed).toMatchObject({status: 'rejected', reason: {message: 'boom'}})
    expect(fine.status === 'fulfilled' && idsOf(fine.value)).toEqual([2])
    await batcher.whenIdle()
    expect(batcher.runningBatches).toBe(0)
  })
})

import {describe, expect, it} from 'vitest'

import {BatchRecord, Batcher, BatcherOptions, RunBatch} from '../../src/lib/serving/core/batcher.js'
import {ServingError} from '../../src/lib/serving/api.js'

const PIXELS = 784
const CLASSES = 10

/** `count` images whose pixels all equal their id, so a result row can say which image it came from. */
function imagesWithIds(ids: number[]): Float32Array {
  const images = new Float32Array(ids.length * PIXELS)
  ids.forEach((id, i) => images.fill(id, i * PIXELS, (i + 1) * PIXELS))
  return images
}

/** A fake forward pass: logit k of an image is its id · 10 + k, plus the version · 1000. */
function fakeRun(version: number, images: Float32Array, count: number): Float32Array {
  const logits = new Float32Array(count * CLASSES)
  for (let i = 0; i < count; i++) for (let k = 0; k < CLASSES; k++) logits[i * CLASSES + k] = version * 1000 + images[i * PIXELS] * 10 + k
  return logits
}

function idsOf(logits: Float32Array): number[] {
  const ids: number[] = []
  for (let i = 0; i < logits.length / CLASSES; i++) ids.push((logits[i * CLASSES] % 1000) / 10)
  return ids
}

/** A runBatch that holds every pass until release(), recording what each pass held. */
function gatedRunner() {
  const passes: Array<{version: number; count: number}> = []
  let gate: Promise<void> = new Promise(() => {})
  let open: () => void = () => {}
  const reset = () => {
    gate = new Promise((resolve) => (open = resolve))
  }
  reset()
  const run: RunBatch = async (version, images, count) => {
    passes.push({version, count})
    await gate
    return fakeRun(version, images, count)
  }
  return {run, passes, release: () => open(), reset}
}

const options: BatcherOptions = {maxBatchSize: 8, batchTimeoutMs: 5, maxQueue: 100, maxConcurrentBatches: 1, mergeRequests: true}

describe('Batcher', () => {
  it('merges concurrent requests into one pass and gives every caller exactly its own rows, in order', async () => {
    const batches: BatchRecord[] = []
    const passes: number[] = []
    const batcher = new Batcher(options, async (version, images, count) => (passes.push(count), fakeRun(version, images, count)), (batch) => batches.push(batch))
    const requests = [[1], [2, 3], [4], [5, 6, 7]]
    const results = await Promise.all(requests.map((ids) => batcher.submit(1, imagesWithIds(ids), ids.length)))
    expect(results.map(idsOf)).toEqual(requests)
    expect(passes).toEqual([7])
    expect(batches).toEqual([{images: 7, requests: 4}])
  })

  it('closes a batch when it is full and starts the next with what is left', async () => {
    const runner = gatedRunner()
    const batcher = new Batcher({...options, maxConcurrentBatches: 2}, runner.run)
    const pending = [1, 2, 3, 4, 5].map((id) => batcher.submit(1, imagesWithIds([id, id + 10, id + 20]), 3))
    await new Promise((resolve) => setTimeout(resolve, 20))
    runner.release()
    const results = await Promise.all(pending)
    expect(results.map(idsOf)).toEqual([1, 2, 3, 4, 5].map((id) => [id, id + 10, id + 20]))
    // 3 + 3 fit in 8, a third request would not: passes of 6, 6 and 3 images.
    expect(runner.passes.map((pass) => pass.count)).toEqual([6, 6, 3])
  })

  it('lets requests gather while the only worker is busy, then runs them together', async () => {
    const runner = gatedRunner()
    const batcher = new Batcher({...options, batchTimeoutMs: 0}, runner.run)
    const first = batcher.submit(1, imagesWithIds([1]), 1)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const later = [2, 3, 4].map((id) => batcher.submit(1, imagesWithIds([id]), 1))
    expect(batcher.queuedRequests).toBe(3)
    runner.release()
    expect(idsOf(await first)).toEqual([1])
    expect((await Promise.all(later)).map(idsOf)).toEqual([[2], [3], [4]])
    expect(runner.passes.map((pass) => pass.count)).toEqual([1, 3])
  })

  it('does not hold a request that finds every worker idle for the batch timeout', async () => {
    const passes: number[] = []
    const neverMs = 2 ** 31 - 1
    const batcher = new Batcher({...options, batchTimeoutMs: neverMs}, async (version, images, count) => (passes.push(count), fakeRun(version, images, count)))
    expect(idsOf(await batcher.submit(1, imagesWithIds([1]), 1))).toEqual([1])
    // Requests submitted together still share the pass.
    const together = await Promise.all([batcher.submit(1, imagesWithIds([2]), 1), batcher.submit(1, imagesWithIds([3]), 1)])
    expect(together.map(idsOf)).toEqual([[2], [3]])
    expect(passes).toEqual([1, 2])
  })

  it('never merges requests for different versions', async () => {
    const passes: Array<{version: number; count: number}> = []
    const batcher = new Batcher(options, async (version, images, count) => (passes.push({version, count}), fakeRun(version, images, count)))
    const [a, b, c] = await Promise.all([batcher.submit(1, imagesWithIds([1]), 1), batcher.submit(2, imagesWithIds([2]), 1), batcher.submit(1, imagesWithIds([3]), 1)])
    expect([a[0], b[0], c[0]]).toEqual([1010, 2020, 1030])
    expect(passes).toEqual([
      {version: 1, count: 2},
      {version: 2, count: 1},
    ])
  })

  it('with merging off (--no-batching) runs one pass per request', async () => {
    const passes: number[] = []
    const batcher = new Batcher({...options, mergeRequests: false}, async (version, images, count) => (passes.push(count), fakeRun(version, images, count)))
    const results = await Promise.all([[1], [2, 3], [4]].map((ids) => batcher.submit(1, imagesWithIds(ids), ids.length)))
    expect(results.map(idsOf)).toEqual([[1], [2, 3], [4]])
    expect(passes).toEqual([1, 2, 1])
  })

  it('answers UNAVAILABLE with a retry delay when the queue is full, and serves the queued ones', async () => {
    const runner = gatedRunner()
    const batcher = new Batcher({...options, maxQueue: 2, batchTimeoutMs: 0}, runner.run)
    const running = batcher.submit(1, imagesWithIds([1]), 1)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const queued = [batcher.submit(1, imagesWithIds([2]), 1), batcher.submit(1, imagesWithIds([3]), 1)]
    const refused = batcher.submit(1, imagesWithIds([4]), 1)
    await expect(refused).rejects.toMatchObject({code: 'UNAVAILABLE', retryAfterSeconds: 1})
    runner.release()
    expect(idsOf(await running)).toEqual([1])
    expect((await Promise.all(queued)).map(idsOf)).toEqual([[2], [3]])
  })

  it('refuses a request larger than the batch limit as INVALID_ARGUMENT', async () => {
    const batcher = new Batcher(options, async (version, images, count) => fakeRun(version, images, count))
    const error = await batcher.submit(1, imagesWithIds([1, 2, 3, 4, 5, 6, 7, 8, 9]), 9).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServingError)
    expect(error).toMatchObject({code: 'INVALID_ARGUMENT', message: 'batch of 9 images is over the limit of 8 per request'})
  })

  it('a failed pass fails only the requests in it; the next batch runs normally', async () => {
    let calls = 0
    const batcher = new Batcher({...options, mergeRequests: false}, async (version, images, count) => {
      if (calls++ === 0) throw new Error('boom')
      return fakeRun(version, images, count)
    })
    const [failed, fine] = await Promise.allSettled([batcher.submit(1, imagesWithIds([1]), 1), batcher.submit(1, imagesWithIds([2]), 1)])
    expect(failed).toMatchObject({status: 'rejected', reason: {message: 'boom'}})
    expect(fine.status === 'fulfilled' && idsOf(fine.value)).toEqual([2])
    await batcher.whenIdle()
    expect(batcher.runningBatches).toBe(0)
  })
})

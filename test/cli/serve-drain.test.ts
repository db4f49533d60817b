import {ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {makeTempDir, startCli} from '../helpers/cli.js'
import {countOutcomes, freshConnectionLoad, requestOnFreshConnection} from '../helpers/fresh-connections.js'
import {imageRows, mnistTestImages, writeTestExport} from '../serving/serving-fixtures.js'

const CLIENTS = 32
/** Answers seen before the signal, so that the signal lands on a server under load. */
const ANSWERS_BEFORE_SIGNAL = 150
const PREDICT_PATH = '/v1/models/mnist:predict'

const temp = makeTempDir('mnist-rnn-drain-')
const {images} = mnistTestImages(1)
const body = JSON.stringify({instances: [imageRows(images, 0)]})

beforeAll(async () => {
  await writeTestExport(temp.dir, 1, 7)
})

afterAll(() => temp.cleanup())

/** Starts `serve` and resolves with its URL once it listens; `output()` is everything it printed. */
async function startServe(extraArgs: string[]): Promise<{child: ChildProcess; url: string; output: () => string}> {
  const child = startCli(['serve', '--port', '0', '--model-dir', temp.dir, '--workers', '1', ...extraArgs])
  let text = ''
  child.stderr!.on('data', (chunk) => (text += chunk))
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      text += chunk
      const match = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)
      if (match) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening: ${text}`)))
  })
  return {child, url, output: () => text}
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20))
}

describe('serve drains without cutting a connection', () => {
  it('32 clients opening a fresh connection per request while serve gets SIGTERM: every accepted connection is answered, exit 0', async () => {
    const {child, url, output} = await startServe([])
    const load = freshConnectionLoad(url, CLIENTS, PREDICT_PATH, body)
    await until(() => load.outcomes.length >= ANSWERS_BEFORE_SIGNAL)
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = await exited
    // Each client stops at its first refused connection; any still running after the exit is refused next.
    await load.finished
    const counts = countOutcomes(load.outcomes)
    expect({cut: counts.cut, cutCodes: counts.cutCodes, failed: counts.failedCodes}).toEqual({cut: 0, cutCodes: [], failed: []})
    expect(counts.statuses).toEqual([200])
    expect(counts.refused).toBe(CLIENTS)
    expect(counts.answered).toBeGreaterThanOrEqual(ANSWERS_BEFORE_SIGNAL)
    expect(code).toBe(0)
    expect(output()).toContain('Stopped.')
  })

  it('while draining, /healthz (liveness) answers 200 and /readyz 503, every answer says Connection: close; a second signal stops at once', async () => {
    const {child, url, output} = await startServe(['--drain-grace-seconds', '600'])
    const keepAlive = {Connection: 'keep-alive'}
    const ready = await requestOnFreshConnection(url, {path: '/readyz', headers: keepAlive})
    expect(ready).toMatchObject({kind: 'answered', status: 200, connectionHeader: 'keep-alive'})
    expect(JSON.parse((ready as {body: string}).body)).toEqual({status: 'ready', model: 'mnist', version: 1})

    child.kill('SIGTERM')
    await untilAsync(async () => (await requestOnFreshConnection(url, {path: '/readyz'})).kind === 'answered' && output().includes('SIGTERM: draining'))
    const [liveness, readiness, prediction] = await Promise.all([
      requestOnFreshConnection(url, {path: '/healthz', headers: keepAlive}),
      requestOnFreshConnection(url, {path: '/readyz', headers: keepAlive}),
      requestOnFreshConnection(url, {path: PREDICT_PATH, body, headers: keepAlive}),
    ])
    expect(liveness).toMatchObject({kind: 'answered', status: 200, connectionHeader: 'close'})
    expect(readiness).toMatchObject({kind: 'answered', status: 503, connectionHeader: 'close'})
    expect(JSON.parse((readiness as {body: string}).body)).toEqual({error: 'shutting down'})
    expect(prediction).toMatchObject({kind: 'answered', status: 200, connectionHeader: 'close'})
    expect(output()).toContain('SIGTERM: draining (not ready); answering for 600 s more, then finishing the requests under way…')

    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    expect((await exited)[0]).toBe(130)
    expect(output()).toContain('SIGTERM again: stopping now')
  })

  it('a connection accepted before the listener closed gets its answer even if its request comes after the close', async () => {
    const {child, url} = await startServe([])
    const early = connect(Number(new URL(url).port), '127.0.0.1')
    await once(early, 'connect')
    let answer = ''
    early.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk))
    const earlyClosed = once(early, 'close')
    // Another connection's answer: by then the server has accepted the early one too.
    expect(await requestOnFreshConnection(url, {path: '/healthz'})).toMatchObject({kind: 'answered', status: 200})

    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await untilAsync(async () => (await requestOnFreshConnection(url, {path: '/healthz'})).kind === 'refused')
    early.write(`POST ${PREDICT_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    await earlyClosed
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(answer).toMatch(/\r\nConnection: close\r\n/i)
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).predictions).toHaveLength(1)
    expect((await exited)[0]).toBe(0)
  })

  it('a request still under way --drain-timeout-seconds after the listener closed has its connection cut; serve says so and exits 0', async () => {
    const {child, url, output} = await startServe(['--drain-timeout-seconds', '1'])
    const stuck = connect(Number(new URL(url).port), '127.0.0.1')
    await once(stuck, 'connect')
    let received = 0
    stuck.on('data', (chunk: Buffer) => (received += chunk.length))
    const stuckClosed = once(stuck, 'close')
    // A body that never completes: the request stays under way.
    stuck.write(`POST ${PREDICT_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"instances": [`)
    expect(await requestOnFreshConnection(url, {path: '/healthz'})).toMatchObject({kind: 'answered', status: 200})

    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await stuckClosed
    expect(received).toBe(0)
    expect((await exited)[0]).toBe(0)
    expect(output()).toContain('Warning: requests still under way 1 s after the listener closed (--drain-timeout-seconds); closing their connections')
    expect(output()).toContain('Stopped.')
  })
})

async function untilAsync(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20))
}

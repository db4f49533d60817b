import * as tf from '@tensorflow/tfjs'
import {statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {loadModelForEvaluation} from '../../src/lib/jobs/model-source.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {GrpcServingClient} from '../../src/lib/client/grpc-client.js'
import {TFJS_BUNDLE_ROUTE} from '../../src/lib/serving/rest/ui.js'
import {CLI, makeTempDir, runCommand as run} from '../helpers/cli.js'
import {imageFlat, imageRows, mnistTestImages} from '../serving/serving-fixtures.js'
import {AttachedContainer, heldPost, podman} from './podman.js'

/**
 * The image an operator deploys, built from the Containerfile and run the way a cluster runs it:
 * as a non-root user, root file system read-only, the models folder mounted read-only. The models
 * are trained and exported here by root with the CLI, as on a build machine, and served by the
 * container's user without any chmod.
 */

const IMAGE = `localhost/mnist-rnn-test:${process.pid}`
const CONTAINER = `mnist-rnn-test-${process.pid}`
/** The Containerfile's user: the official Node image's `node`. */
const CONTAINER_UID = 1000
const HTTP_PORT = 5000
const GRPC_PORT = 9000
/** Real MNIST test images per request (a Flask body of 32 images is ~0.5 MB, under the 1 MB limit). */
const IMAGE_COUNT = 32
/** Seconds `podman stop` waits before SIGKILL; a graceful stop exits 0 well before. */
const GRACE_SECONDS = 30
const STEPS = 120
const FIRST_CHECKPOINT = 'ckpt-60'
const SECOND_CHECKPOINT = 'ckpt-120'
/** Chance is 0.1; 60 steps of a 32-unit LSTM already do far better. */
const ACCURACY_FLOOR = 0.3
const STARTUP_TIMEOUT_MS = 120_000
const NEW_VERSION_TIMEOUT_MS = 60_000

const temp = makeTempDir('mnist-rnn-container-')
const checkpointDir = join(temp.dir, 'checkpoints')
const modelDir = join(temp.dir, 'models')
const {images, labels} = mnistTestImages(IMAGE_COUNT)
/** In-process logits of each exported version on `images`, as `mnist-rnn eval --model` computes them. */
const evalLogits = new Map<number, Float32Array>()

let container: AttachedContainer
let httpAddress: string
let grpc: GrpcServingClient

/** The CLI run as root with the usual umask, the way an operator exports on a build machine. */
async function cli(...args: string[]): Promise<string> {
  const result = await run('sh', ['-c', 'umask 022 && exec "$@"', 'sh', process.execPath, CLI, ...args])
  if (result.status !== 0) throw new Error(`mnist-rnn ${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  return result.stdout
}

async function exportVersion(version: number, checkpoint: string): Promise<void> {
  await cli('export', '--checkpoint-dir', checkpointDir, '--checkpoint', checkpoint, '--export-dir', modelDir, '--version', String(version), '--limit', '100')
  const {weights} = await loadModelForEvaluation({checkpointDir, model: join(modelDir, String(version))})
  try {
    evalLogits.set(version, tf.tidy(() => classifierLogits(weights, tf.tensor3d(images, [IMAGE_COUNT, 28, 28])).dataSync() as Float32Array))
  } finally {
    disposeClassifierWeights(weights)
  }
}

function rowsOf(values: Float32Array, count: number, width = 10): number[][] {
  return Array.from({length: count}, (_, i) => Array.from(values.subarray(i * width, (i + 1) * width)))
}

function softmaxRows(logits: Float32Array, count: number): number[][] {
  return rowsOf(tf.tidy(() => tf.softmax(tf.tensor2d(logits, [count, 10])).dataSync() as Float32Array), count)
}

function expectRowsClose(actual: number[][], expected: number[][]): void {
  expect(actual).toHaveLength(expected.length)
  actual.forEach((row, i) => row.forEach((value, j) => expect(Math.abs(value - expected[i][j]), `row ${i}, class ${j}`).toBeLessThanOrEqual(1e-5)))
}

const argmax = (row: number[]) => row.indexOf(Math.max(...row))

/** A JSON answer; its body is read as the test expects it and checked by the assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies of several shapes, each checked where used
type JsonAnswer = {status: number; body: any}

async function getJson(path: string): Promise<JsonAnswer> {
  const response = await fetch(`http://${httpAddress}${path}`)
  return {status: response.status, body: await response.json()}
}

async function postJson(path: string, body: unknown): Promise<JsonAnswer> {
  const response = await fetch(`http://${httpAddress}${path}`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  return {status: response.status, body: await response.json()}
}

async function removeContainerAndImages(): Promise<void> {
  await run('podman', ['rm', '--force', '--ignore', CONTAINER])
  await run('podman', ['rmi', '--force', '--ignore', IMAGE])
}

describe('the container image', () => {
  beforeAll(async () => {
    expect(process.getuid?.(), 'the container tier runs as root (rootful podman, models exported by root)').toBe(0)
    await selectBackend('wasm')
    const [build] = await Promise.all([
      run('bash', ['scripts/container-build.sh', IMAGE, '--layers=false']),
      cli('train', '--steps', String(STEPS), '--hidden', '32', '--checkpoint-every', '60', '--validation-size', '500', '--checkpoint-dir', checkpointDir),
    ])
    if (build.status !== 0) throw new Error(`the image did not build:\n${build.stdout.slice(-4000)}\n${build.stderr.slice(-4000)}`)
    await exportVersion(1, FIRST_CHECKPOINT)

    container = new AttachedContainer(CONTAINER, [
      '--rm',
      '--read-only',
      '--volume',
      `${modelDir}:/models:ro`,
      '--publish',
      `127.0.0.1::${HTTP_PORT}`,
      '--publish',
      `127.0.0.1::${GRPC_PORT}`,
      IMAGE,
      ...['serve', '--host', '0.0.0.0', '--port', String(HTTP_PORT), '--model-dir', '/models'],
      ...['--grpc-port', String(GRPC_PORT), '--poll-seconds', '1', '--workers', '1'],
    ])
    await container.waitForOutput('Listening on', STARTUP_TIMEOUT_MS)
    httpAddress = await container.address(HTTP_PORT)
    grpc = new GrpcServingClient(await container.address(GRPC_PORT))
  })

  afterAll(async () => {
    grpc?.close()
    await removeContainerAndImages()
    temp.cleanup()
  })

  it('holds the compiled CLI and production dependencies only, runs it as entrypoint with `serve` by default, declares ports 5000 and 9000 and a non-root user', async () => {
    const config = JSON.parse(await podman('image', 'inspect', '--format', '{{json .Config}}', IMAGE))
    expect(config.Entrypoint).toEqual(['node', '/app/bin/run.js'])
    expect(config.Cmd).toEqual(['serve', '--host', '0.0.0.0', '--port', '5000', '--model-dir', '/models'])
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(['5000/tcp', '9000/tcp'])
    expect(config.User).toBe(`${CONTAINER_UID}:${CONTAINER_UID}`)

    const inventory = `
      const fs = require('node:fs')
      const modules = fs.readdirSync('/app/node_modules', {recursive: true})
      console.log(JSON.stringify({
        app: fs.readdirSync('/app'),
        dist: fs.readdirSync('/app/dist'),
        devOrUnloadable: ['typescript', 'vitest', 'tsx', '@tensorflow/tfjs-node'].filter((name) => fs.existsSync('/app/node_modules/' + name)),
        onnxRuntimeBinaries: modules.filter((path) => /^onnxruntime-node\\/bin\\/napi-v\\d+\\/[^/]+\\/[^/]+$/.test(path)).map((path) => path.split('/').slice(-2).join('/')),
        otherPlatformsOrSourceMaps: modules.filter((path) => /(^|\\/)bin\\/napi-v\\d+\\/(win32|darwin)$|\\.map$/.test(path)).slice(0, 3),
      }))`
    expect(JSON.parse(await podman('run', '--rm', '--entrypoint', 'node', IMAGE, '-e', inventory))).toEqual({
      app: ['bin', 'dist', 'node_modules', 'package-lock.json', 'package.json', 'proto'],
      dist: ['commands', 'lib', 'ui'],
      devOrUnloadable: [],
      onnxRuntimeBinaries: ['linux/x64'],
      otherPlatformsOrSourceMaps: [],
    })
  })

  it('serves models exported by root as a non-root user, root file system and models read-only, without any chmod', async () => {
    expect(statSync(join(modelDir, '1')).uid).toBe(0)
    expect(container.output).toMatch(/^Engine onnxruntime \(auto: /m)
    expect(await podman('exec', CONTAINER, 'id', '-u')).toBe(String(CONTAINER_UID))
    const writeApp = await run('podman', ['exec', CONTAINER, 'touch', '/app/written'])
    expect(writeApp.stderr).toMatch(/Read-only file system/)
    const writeModels = await run('podman', ['exec', CONTAINER, 'touch', '/models/written'])
    expect(writeModels.stderr).toMatch(/Read-only file system/)

    expect(await getJson('/healthz')).toEqual({status: 200, body: {status: 'ok', model: 'mnist', version: 1}})
    // The drawing page and the TensorFlow.js browser bundle it loads ship in the image.
    const page = await fetch(`http://${httpAddress}/`, {headers: {accept: 'text/html'}})
    expect([page.status, page.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/html/)])
    const bundle = await fetch(`http://${httpAddress}${TFJS_BUNDLE_ROUTE}`)
    expect(bundle.status).toBe(200)
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(0)
    expect(await getJson('/v1/models/mnist')).toEqual({
      status: 200,
      body: {model_version_status: [{version: '1', state: 'AVAILABLE', status: {error_code: 'OK', error_message: ''}}]},
    })
  })

  it("predicts real MNIST digits through the Flask route, TF Serving's REST and gRPC APIs exactly as eval computes in-process", async () => {
    const expectedLogits = rowsOf(evalLogits.get(1)!, IMAGE_COUNT)
    const accuracy = expectedLogits.filter((row, i) => argmax(row) === labels[i]).length / IMAGE_COUNT
    expect(accuracy).toBeGreaterThan(ACCURACY_FLOOR)

    const flask = await postJson('/', {data: Array.from({length: IMAGE_COUNT}, (_, i) => imageFlat(images, i))})
    expect(flask.status).toBe(200)
    expectRowsClose(flask.body.y, softmaxRows(evalLogits.get(1)!, IMAGE_COUNT))

    const rest = await postJson('/v1/models/mnist:predict', {instances: Array.from({length: IMAGE_COUNT}, (_, i) => imageRows(images, i))})
    expect(rest.status).toBe(200)
    expectRowsClose(rest.body.predictions, expectedLogits)

    const overGrpc = await grpc.predict(images, IMAGE_COUNT)
    expect(overGrpc.version).toBe(1)
    expectRowsClose(rowsOf(overGrpc.logits, IMAGE_COUNT), expectedLogits)

    // The same digits, so the same accuracy as eval's.
    const served = (flask.body.y as number[][]).filter((row, i) => argmax(row) === labels[i]).length / IMAGE_COUNT
    expect(served).toBe(accuracy)
  })

  it('runs `mnist-rnn eval` in the image (read-only, non-root) on the mounted model: the accuracy eval computes in-process', async () => {
    const expectedCorrect = rowsOf(evalLogits.get(1)!, IMAGE_COUNT).filter((row, i) => argmax(row) === labels[i]).length
    const report = JSON.parse(
      await podman('run', '--rm', '--read-only', '--volume', `${modelDir}:/models:ro`, IMAGE, 'eval', '--model', '/models/1', '--limit', String(IMAGE_COUNT), '--json'),
    )
    // ONNX Runtime's Linux binary, the one the image keeps, loads and runs the version's model.onnx.
    expect(report).toMatchObject({model: {kind: 'export', name: '1'}, engine: {name: 'onnxruntime'}, images: IMAGE_COUNT, correct: expectedCorrect})
  })

  it('picks up a new version exported by root into the mounted folder', async () => {
    await exportVersion(2, SECOND_CHECKPOINT)
    const deadline = Date.now() + NEW_VERSION_TIMEOUT_MS
    let status = await getJson('/v1/models/mnist')
    while (!status.body.model_version_status?.some((entry: {version: string; state: string}) => entry.version === '2' && entry.state === 'AVAILABLE')) {
      if (Date.now() > deadline) throw new Error(`version 2 not served within ${NEW_VERSION_TIMEOUT_MS} ms: ${JSON.stringify(status.body)}\n${container.output}`)
      await new Promise((resolve) => setTimeout(resolve, 250))
      status = await getJson('/v1/models/mnist')
    }
    const overGrpc = await grpc.predict(images, IMAGE_COUNT)
    expect(overGrpc.version).toBe(2)
    expectRowsClose(rowsOf(overGrpc.logits, IMAGE_COUNT), rowsOf(evalLogits.get(2)!, IMAGE_COUNT))
  })

  it('stops on `podman stop` with exit status 0 within the grace period, answering every request in flight', async () => {
    grpc.close()
    // Three requests the server has started (it answered 100 Continue) but cannot finish: their bodies come during the stop.
    const held = [
      heldPost(httpAddress, '/', {data: imageFlat(images, 0)}),
      heldPost(httpAddress, '/v1/models/mnist:predict', {instances: [imageRows(images, 1), imageRows(images, 2)]}),
      heldPost(httpAddress, '/v1/models/mnist/versions/2:predict', {instances: [imageRows(images, 3)]}),
    ]
    await Promise.all(held.map((request) => request.continued))

    const stop = run('podman', ['stop', '--time', String(GRACE_SECONDS), CONTAINER])
    await container.waitForOutput('SIGTERM: draining', GRACE_SECONDS * 1000)
    for (const request of held) request.send()
    const answers = await Promise.all(held.map((request) => request.answered))

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200])
    const expected = rowsOf(evalLogits.get(2)!, 4)
    expectRowsClose(JSON.parse(answers[0].body).y, softmaxRows(evalLogits.get(2)!.subarray(0, 10), 1))
    expectRowsClose(JSON.parse(answers[1].body).predictions, expected.slice(1, 3))
    expectRowsClose(JSON.parse(answers[2].body).predictions, expected.slice(3, 4))

    const stopped = await stop
    expect(stopped.status, stopped.stderr).toBe(0)
    // 137 would mean podman had to SIGKILL it at the end of the grace period.
    expect(await container.exited).toBe(0)
    expect(container.output).toMatch(/Stopped\.\n$/)
  })
})

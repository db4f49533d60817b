import * as grpc from '@grpc/grpc-js'
import {cpSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {GrpcServingClient} from '../../src/lib/client/grpc-client.js'
import {grpcFrontend} from '../../src/lib/serving/grpc/frontend.js'
import {SERVE_DEFAULTS, ServeOptions} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingLog} from '../../src/lib/serving/api.js'
import {makeTempDir} from '../helpers/cli.js'
import {mnistTestImages, writeTestExport} from './serving-fixtures.js'
import {predict, statusOf, steadyTraffic, until, versionIdentifier} from './version-traffic.js'

/** Each version's weights come from its seed, so an answer says which version gave it. */
const SEEDS: Record<number, number> = {1: 101, 2: 202, 3: 303, 5: 505}
const IMAGES = 8
const CLIENTS = 32
const POLL_SECONDS = 0.2
const PREDICT = '/v1/models/mnist:predict'

const {images} = mnistTestImages(IMAGES)
const versionOf = versionIdentifier(SEEDS, images)

function logLines(): {log: ServingLog; lines: string[]} {
  const lines: string[] = []
  return {lines, log: {info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m)}}
}

function options(modelDir: string, overrides: Partial<ServeOptions> = {}): ServeOptions {
  return {...SERVE_DEFAULTS, port: 0, modelDir, workers: 1, pollSeconds: POLL_SECONDS, backend: 'wasm', ...overrides}
}

/** A copy of `from` with one byte of its weights flipped, published as `version` (renamed in whole). */
function publishCorrupt(exportDir: string, from: number, version: number): void {
  const staging = join(exportDir, `.staging-${version}`)
  cpSync(join(exportDir, String(from)), staging, {recursive: true})
  const weights = readFileSync(join(staging, 'weights.bin'))
  weights[weights.length - 1] ^= 0xff
  writeFileSync(join(staging, 'weights.bin'), weights)
  renameSync(staging, join(exportDir, String(version)))
}

const states = async (url: string) => (await statusOf(url)).map((status) => [status.version, status.state, status.status.error_message])

describe('the file system is the source of truth: new versions, failed ones and removed ones, under load', () => {
  const temp = makeTempDir('mnist-rnn-rollback-')
  const {log, lines} = logLines()
  let server: RunningServer

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    await writeTestExport(temp.dir, 2, SEEDS[2])
    server = await startServer(options(temp.dir), log)
  })

  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it('at concurrency 32: adding 3 swaps to 3, a corrupt 4 is refused and 3 kept, removing 3 rolls back to 2; no request fails', async () => {
    expect(server.versions).toEqual([2])
    const traffic = steadyTraffic(server.url, PREDICT, CLIENTS, images, versionOf)
    const answeredBy = (version: number, from: number) => traffic.answers.slice(from).some((answer) => answer.version === version)
    const lastAnswersFrom = (version: number) => traffic.answers.slice(-CLIENTS).every((answer) => answer.version === version)
    await until(() => traffic.answers.length >= 2 * CLIENTS, 'traffic on version 2')

    await writeTestExport(temp.dir, 3, SEEDS[3])
    await until(() => answeredBy(3, 0), 'an answer from version 3')
    let mark = traffic.answers.length
    await until(() => traffic.answers.length >= mark + 2 * CLIENTS, 'traffic after the swap to 3')
    expect(lastAnswersFrom(3)).toBe(true)

    publishCorrupt(temp.dir, 3, 4)
    await until(async () => (await statusOf(server.url)).some((status) => status.version === '4' && status.state === 'END'), 'version 4 to be refused')
    mark = traffic.answers.length
    await until(() => traffic.answers.length >= mark + 2 * CLIENTS, 'traffic after the refusal of 4')
    expect(traffic.answers.slice(mark).every((answer) => answer.version === 3)).toBe(true)

    rmSync(join(temp.dir, '3'), {recursive: true, force: true})
    mark = traffic.answers.length
    await until(() => answeredBy(2, mark), 'an answer from version 2 again')
    mark = traffic.answers.length
    await until(() => traffic.answers.length >= mark + 2 * CLIENTS, 'traffic after the rollback')
    await traffic.stop()

    expect(traffic.answers.filter((answer) => answer.status !== 200)).toEqual([])
    expect(traffic.answers.every((answer) => answer.version !== undefined)).toBe(true)
    expect(lastAnswersFrom(2)).toBe(true)
    const statuses = await states(server.url)
    expect(statuses.map(([version, state]) => [version, state])).toEqual([
      ['4', 'END'],
      ['3', 'END'],
      ['2', 'AVAILABLE'],
    ])
    expect(statuses[0][2]).toMatch(/^weights\.bin fails its recorded sha256/)
    expect(lines).toEqual(
      expect.arrayContaining([
        'serving mnist version 3 (replaces version 2)',
        'unloading version 2 of mnist: the version policy latest no longer includes it',
        'unloading version 3 of mnist: its folder was removed',
        'serving mnist version 2 (replaces version 3)',
      ]),
    )
    expect(lines.find((line) => line.startsWith('version 4 of mnist refused:'))).toMatch(/; still serving version 3$/)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/^mnist_serving_model_version\{model="mnist"\} 2$/m)
  })

  it('when no valid version is left on disk, the last one keeps serving (said in the status and the log) until one appears', async () => {
    for (const version of ['1', '2', '4']) rmSync(join(temp.dir, version), {recursive: true, force: true})
    await until(async () => (await statusOf(server.url, '/v1/models/mnist/versions/2'))[0].status.error_message !== '', 'the status to report it')
    expect(await states(server.url)).toContainEqual(['2', 'AVAILABLE', 'its folder was removed, but no other version can be served: still serving it until one can'])
    expect(lines).toContain('mnist version 2: its folder was removed, but no other version can be served; still serving it until one can')
    const answer = await predict(server.url, PREDICT, images, 1)
    expect(answer.status).toBe(200)
    expect(versionOf(answer.logits!, 1)).toBe(2)
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)

    await writeTestExport(temp.dir, 5, SEEDS[5])
    await until(async () => versionOf((await predict(server.url, PREDICT, images, 2)).logits!, 2) === 5, 'version 5 to serve')
    expect((await states(server.url)).slice(0, 2)).toEqual([
      ['5', 'AVAILABLE', ''],
      ['4', 'END', expect.stringMatching(/^weights\.bin fails/)],
    ])
    expect(await states(server.url)).toContainEqual(['2', 'END', ''])
  })
})

describe('--versions all with labels: every version answers on its own routes at once', () => {
  const temp = makeTempDir('mnist-rnn-labels-')
  let server: RunningServer
  let client: GrpcServingClient

  beforeAll(async () => {
    await writeTestExport(temp.dir, 1, SEEDS[1])
    await writeTestExport(temp.dir, 2, SEEDS[2])
    server = await startServer(options(temp.dir, {versionPolicy: {kind: 'all'}, labels: {stable: 1, canary: 2}}), logLines().log, [
      grpcFrontend({host: '127.0.0.1', port: 0}),
    ])
    client = new GrpcServingClient(server.frontends[0].address)
  })

  afterAll(async () => {
    client?.close()
    await server?.shutdown()
    temp.cleanup()
  })

  it('REST: /versions/N and /labels/LABEL reach their version, unversioned requests the highest, concurrently', async () => {
    const paths: Record<string, number> = {
      '/v1/models/mnist/versions/1:predict': 1,
      '/v1/models/mnist/versions/2:predict': 2,
      '/v1/models/mnist/labels/stable:predict': 1,
      '/v1/models/mnist/labels/canary:predict': 2,
      '/v1/models/mnist:predict': 2,
    }
    const requests = Object.entries(paths).flatMap(([path, version]) =>
      Array.from({length: IMAGES}, async (_, index) => {
        const answer = await predict(server.url, path, images, index)
        return {path, expected: version, status: answer.status, version: answer.logits && versionOf(answer.logits, index)}
      }),
    )
    for (const answer of await Promise.all(requests)) expect(answer).toMatchObject({status: 200, version: answer.expected})

    expect(await states(server.url)).toEqual([
      ['2', 'AVAILABLE', ''],
      ['1', 'AVAILABLE', ''],
    ])
    expect(await statusOf(server.url, '/v1/models/mnist/labels/stable')).toEqual([{version: '1', state: 'AVAILABLE', status: {error_code: 'OK', error_message: ''}}])
    const metadata = (await (await fetch(`${server.url}/v1/models/mnist/labels/stable/metadata`)).json()) as {model_spec: {version: string}}
    expect(metadata.model_spec.version).toBe('1')
    expect(await (await fetch(`${server.url}/v1/models/mnist/labels`)).json()).toEqual({version_labels: {canary: '2', stable: '1'}})

    const unknown = await predict(server.url, '/v1/models/mnist/labels/beta:predict', images, 0)
    expect(unknown).toMatchObject({status: 400, error: 'Unrecognized servable version label: beta'})

    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    const weightBytes = 4 * (28 * 64 + 16 * 64 + 64 + 16 * 10 + 10)
    expect(metrics).toContain(`mnist_serving_version_weight_bytes{model="mnist",version="2"} ${weightBytes}`)
    expect(metrics).toContain(`mnist_serving_version_weight_bytes{model="mnist",version="1"} ${weightBytes}`)
    expect(metrics).toContain('mnist_serving_version_label{model="mnist",label="canary"} 2')
  })

  it('gRPC: model_spec.version and model_spec.version_label reach their version; an unknown label is INVALID_ARGUMENT', async () => {
    const expectVersion = async (spec: {version?: number; versionLabel?: string}, version: number) => {
      const result = await client.predict(images, IMAGES, spec)
      expect(result.version).toBe(version)
      for (let i = 0; i < IMAGES; i++) expect(versionOf(Array.from(result.logits.subarray(i * 10, i * 10 + 10)), i)).toBe(version)
    }
    await Promise.all([
      expectVersion({version: 1}, 1),
      expectVersion({version: 2}, 2),
      expectVersion({versionLabel: 'stable'}, 1),
      expectVersion({versionLabel: 'canary'}, 2),
      expectVersion({}, 2),
    ])
    expect((await client.status({versionLabel: 'stable'})).map((status) => [status.version, status.state])).toEqual([[1, 'AVAILABLE']])
    const failure = await client.predict(images, 1, {versionLabel: 'beta'}).catch((error: grpc.ServiceError) => error)
    expect(failure).toMatchObject({code: grpc.status.INVALID_ARGUMENT, details: 'Unrecognized servable version label: beta'})
  })
})

describe('--model-config: version policy and labels from a TF Serving model config file, re-read while serving', () => {
  const temp = makeTempDir('mnist-rnn-model-config-')
  const modelDir = join(temp.dir, 'models')
  const configFile = join(temp.dir, 'models.config')
  const {log, lines} = logLines()
  let server: RunningServer

  const writeConfig = (policy: string, labels: Record<string, number>, extra = '') =>
    writeFileSync(
      configFile,
      [
        '# the one model this server serves',
        'model_config_list {',
        '  config {',
        '    name: "mnist"',
        '    base_path: "models"',
        '    model_platform: "tensorflow"',
        `    model_version_policy { ${policy} }`,
        ...Object.entries(labels).map(([label, version]) => `    version_labels { key: "${label}" value: ${version} }`),
        extra,
        '  }',
        '}',
      ].join('\n'),
    )
  const canaryVersion = async () => {
    const answer = await predict(server.url, '/v1/models/mnist/labels/canary:predict', images, 3)
    return answer.logits && versionOf(answer.logits, 3)
  }

  beforeAll(async () => {
    for (const version of [1, 2, 3]) await writeTestExport(modelDir, version, SEEDS[version])
    writeConfig('specific { versions: 1 versions: 2 }', {stable: 1, canary: 2})
    server = await startServer(options('ignored', {modelConfigFile: configFile}), log)
  })

  afterAll(async () => {
    await server?.shutdown()
    temp.cleanup()
  })

  it('serves what the file says: name, base_path (relative to the file), specific versions, labels', async () => {
    expect(server.modelDir).toBe(modelDir)
    expect(server.versions).toEqual([2, 1])
    expect(server.labels).toEqual({canary: 2, stable: 1})
    expect(await canaryVersion()).toBe(2)
  })

  it('relabelling takes effect at the next poll, without a restart', async () => {

    writeConfig('specific { versions: 1 versions: 2 }', {stable: 1, canary: 1})
    await until(async () => (await canaryVersion()) === 1, 'canary to name version 1')
    expect(lines).toContain(`${configFile}: labels of mnist are now canary=1, stable=1 (were canary=2, stable=1)`)
  })

  it('a new policy and a label on the version it adds apply together; the old labels stay while a label names no available version', async () => {
    writeConfig('specific { versions: [2, 3] }', {stable: 2, canary: 3})
    await until(async () => (await canaryVersion()) === 3, 'canary to name version 3')
    expect(await states(server.url)).toEqual([
      ['3', 'AVAILABLE', ''],
      ['2', 'AVAILABLE', ''],
      ['1', 'END', ''],
    ])
    expect(lines).toContain(`${configFile}: version policy of mnist is now specific:3,2 (was specific:2,1)`)

    writeConfig('specific { versions: [2, 3] }', {stable: 2, canary: 9})
    await until(() => lines.some((line) => line.includes('label canary names version 9')), 'the refusal')
    expect(lines).toContain(
      `${configFile}: label canary names version 9 of mnist, which is not available (available: 3, 2); keeping the labels canary=3, stable=2 until it is`,
    )
    expect(await canaryVersion()).toBe(3)
  })

  it('a file that does not parse, or changes the name, is refused with where and why; the current config stays', async () => {
    writeConfig('latest { num_versions: 1 } all {}', {canary: 2})
    await until(() => lines.some((line) => line.includes('are both set')), 'the refusal')
    expect(lines).toContain(`${configFile}:7:55: "all" and "latest" are both set, but only one of oneof policy_choice may be; keeping the current model config`)

    writeConfig('specific { versions: 2 }', {canary: 2}, '    base_path: "elsewhere"')
    await until(() => lines.some((line) => line.includes('base_path is set twice')), 'the refusal')

    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('name: "mnist"', 'name: "fashion"').replace('    base_path: "elsewhere"\n', ''))

    await until(() => lines.some((line) => line.includes('name and base_path cannot change')), 'the refusal')
    expect(await canaryVersion()).toBe(3)
    expect(await states(server.url)).toContainEqual(['3', 'AVAILABLE', ''])
  })
})

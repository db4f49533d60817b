import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import {ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {REPO_ROOT, makeTempDir, startCli} from '../helpers/cli.js'
import {writeTestExport} from '../serving/serving-fixtures.js'
import {flagValue, freePort, withFlag} from './manifest-args.js'

/**
 * deploy/kserve/inferenceservice.yaml runs the real CLI: this reads the manifest, starts
 * `mnist-rnn serve` with exactly its container args (the model directory replaced by a test
 * export, the ports by free ones) and calls the probes and ports the manifest names.
 */

const MANIFEST = join(REPO_ROOT, 'deploy', 'kserve', 'inferenceservice.yaml')
const READY_TIMEOUT_MS = 60_000

interface Probe {
  httpGet: {path: string; port: number}
}

interface Container {
  name: string
  image: string
  args: string[]
  env?: {name: string; value: string}[]
  ports: {name: string; containerPort: number; protocol?: string}[]
  readinessProbe: Probe
  livenessProbe: Probe
}

interface InferenceService {
  apiVersion: string
  kind: string
  metadata: {name: string; annotations: Record<string, string>}
  spec: {predictor: {containers: Container[]}}
}

const manifest = parse(readFileSync(MANIFEST, 'utf8')) as InferenceService
const container = manifest.spec.predictor.containers[0]
const temp = makeTempDir('mnist-rnn-kserve-')
let child: ChildProcess
let output = ''
let httpPort: number
let grpcPort: number

async function waitForReady(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}): ${output}`)
    try {
      if ((await fetch(url)).status === 200) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`serve was not ready in ${READY_TIMEOUT_MS} ms: ${output}`)
}

beforeAll(async () => {
  await writeTestExport(temp.dir, 1, 7)
  httpPort = await freePort()
  grpcPort = await freePort()
  let args = withFlag(container.args, '--model-dir', temp.dir)
  args = withFlag(args, '--port', String(httpPort))
  args = withFlag(args, '--grpc-port', String(grpcPort))
  child = startCli(args)
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  await waitForReady(`http://127.0.0.1:${httpPort}${container.readinessProbe.httpGet.path}`)
}, READY_TIMEOUT_MS + 30_000)

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  temp.cleanup()
})

describe('deploy/kserve/inferenceservice.yaml', () => {
  it("is a KServe InferenceService whose predictor runs the project's image with serve's own flags", () => {
    expect(manifest).toMatchObject({apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService'})
    expect(container).toMatchObject({name: 'kserve-container', image: 'mnist-rnn:latest'})
    expect(container.args[0]).toBe('serve')
    expect(flagValue(container.args, '--host')).toBe('0.0.0.0')
    expect(flagValue(container.args, '--model-dir')).toBe('/mnt/models')
    expect(container.env).toContainEqual({name: 'STORAGE_URI', value: expect.stringMatching(/^\w+:\/\//)})
  })

  it('names one HTTP port, the one serve listens on, and probes it', () => {
    const port = Number(flagValue(container.args, '--port'))
    expect(container.ports).toEqual([{name: 'http1', containerPort: port, protocol: 'TCP'}])
    expect(container.readinessProbe.httpGet).toEqual({path: '/v2/health/ready', port})
    expect(container.livenessProbe.httpGet).toEqual({path: '/v2/health/live', port})
    expect(manifest.metadata.annotations['prometheus.kserve.io/port']).toBe(String(port))
    expect(Number(flagValue(container.args, '--grpc-port'))).toBe(9000)
  })

  it('serve started with those args answers the readiness and liveness probes, /metrics and V2 inference', async () => {
    const url = `http://127.0.0.1:${httpPort}`
    const ready = await fetch(`${url}${container.readinessProbe.httpGet.path}`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ready: true})
    const live = await fetch(`${url}${container.livenessProbe.httpGet.path}`)
    expect(live.status).toBe(200)
    expect(await live.json()).toEqual({live: true})
    const metrics = await fetch(`${url}${manifest.metadata.annotations['prometheus.kserve.io/path']}`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toContain('mnist_serving_requests_total{route="v2_health_ready",status="200"}')
    const modelName = flagValue(container.args, '--model-name')
    const infer = await fetch(`${url}/v2/models/${modelName}/infer`, {
      method: 'POST',
      body: JSON.stringify({inputs: [{name: 'x_input', shape: [1, 784], datatype: 'FP32', data: new Array(784).fill(0)}]}),
    })
    expect(infer.status).toBe(200)
    expect(await infer.json()).toMatchObject({model_name: modelName, model_version: '1'})
  })

  it("answers the V2 gRPC health calls on the --grpc-port", async () => {
    const definition = protoLoader.loadSync(join(REPO_ROOT, 'proto', 'open_inference', 'open_inference_grpc.proto'), {keepCase: true})
    const {GRPCInferenceService} = (grpc.loadPackageDefinition(definition) as unknown as {inference: {GRPCInferenceService: grpc.ServiceClientConstructor}}).inference
    const client = new GRPCInferenceService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (request: object, callback: (error: Error | null, answer: unknown) => void) => void>
    try {
      const ask = (method: string) => new Promise((resolve, reject) => client[method]({}, (error, answer) => (error ? reject(error) : resolve(answer))))
      expect(await ask('ServerLive')).toEqual({live: true})
      expect(await ask('ServerReady')).toEqual({ready: true})
    } finally {
      client.close()
    }
  })

  it('drains and exits 0 on SIGTERM, as Kubernetes stops a pod', async () => {
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
    expect(output).toMatch(/SIGTERM: draining \(not ready\)/)
  })
})

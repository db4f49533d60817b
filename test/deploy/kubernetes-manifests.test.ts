import {ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'

import {GrpcServingClient} from '../../src/lib/client/grpc-client.js'
import {LISTENER_QUIET_LIMIT_MS} from '../../src/lib/serving/shutdown.js'
import {REPO_ROOT, makeTempDir, startCli} from '../helpers/cli.js'
import {writeTestExport} from '../serving/serving-fixtures.js'
import {flagValue, freePort, withFlag} from './manifest-args.js'

/**
 * deploy/kubernetes/ runs the real CLI: this reads every manifest, checks that they refer to one
 * another (labels, port names, the scaled Deployment) and to the image (Containerfile), that the
 * drain settings fit in the grace period, then starts `mnist-rnn serve` with exactly the
 * container's args (model directory and ports replaced) and calls every probe and port.
 */

const DIR = join(REPO_ROOT, 'deploy', 'kubernetes')
const READY_TIMEOUT_MS = 60_000

interface HttpGet {
  path: string
  port: string | number
}
interface ContainerPort {
  name: string
  containerPort: number
  protocol: string
}
interface Container {
  name: string
  image: string
  args: string[]
  ports: ContainerPort[]
  startupProbe: {httpGet: HttpGet}
  livenessProbe: {httpGet: HttpGet}
  readinessProbe: {httpGet: HttpGet}
  lifecycle: {preStop: {exec: {command: string[]}}}
  resources: {requests: {cpu: string; memory: string}; limits: {cpu: string; memory: string}}
  securityContext: {readOnlyRootFilesystem: boolean}
}
type Labels = Record<string, string>
interface Manifest {
  apiVersion: string
  kind: string
  metadata: {name: string}
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec: any
}

const files = readdirSync(DIR).filter((name) => name.endsWith('.yaml'))
const manifests: Manifest[] = files.flatMap((name) => parseAllDocuments(readFileSync(join(DIR, name), 'utf8')).map((document) => document.toJS() as Manifest))
const ofKind = (kind: string): Manifest => {
  const found = manifests.filter((manifest) => manifest.kind === kind)
  expect(found, kind).toHaveLength(1)
  return found[0]
}
const deployment = ofKind('Deployment')
const pod = deployment.spec.template as {metadata: {labels: Labels; annotations: Record<string, string>}; spec: {terminationGracePeriodSeconds: number; securityContext: {runAsUser: number; runAsNonRoot: boolean}; containers: Container[]}}
const container = pod.spec.containers[0]

const temp = makeTempDir('mnist-rnn-kubernetes-')
let child: ChildProcess
let output = ''
/** The test's port for each of the container's port numbers. */
const portFor = new Map<number, number>()

/** The port a probe or Service names (by name or number), as the test's serve listens on it. */
function testPort(port: string | number): number {
  const containerPort = typeof port === 'number' ? port : container.ports.find((candidate) => candidate.name === port)?.containerPort
  if (containerPort === undefined || !portFor.has(containerPort)) throw new Error(`no container port ${port}`)
  return portFor.get(containerPort)!
}

function matches(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value)
}

beforeAll(async () => {
  await writeTestExport(temp.dir, 1, 7)
  let args = withFlag(container.args, '--model-dir', temp.dir)
  for (const flag of ['--port', '--grpc-port']) {
    const port = await freePort()
    portFor.set(Number(flagValue(container.args, flag)), port)
    args = withFlag(args, flag, String(port))
  }
  child = startCli(args)
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const startup = `http://127.0.0.1:${testPort(container.startupProbe.httpGet.port)}${container.startupProbe.httpGet.path}`
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}): ${output}`)
    if (Date.now() > deadline) throw new Error(`serve did not answer its startup probe in ${READY_TIMEOUT_MS} ms: ${output}`)
    if ((await fetch(startup).catch(() => undefined))?.status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}, READY_TIMEOUT_MS + 30_000)

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  temp.cleanup()
})

describe('deploy/kubernetes/', () => {
  it('holds a Deployment, a Service, a HorizontalPodAutoscaler and a PodDisruptionBudget that refer to one another, all in the kustomization', () => {
    expect(manifests.map((manifest) => `${manifest.apiVersion} ${manifest.kind}`).sort()).toEqual([
      'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'kustomize.config.k8s.io/v1beta1 Kustomization',
      'policy/v1 PodDisruptionBudget',
      'v1 Service',
    ])
    const kustomization = ofKind('Kustomization') as unknown as {resources: string[]}
    expect([...kustomization.resources].sort()).toEqual(files.filter((name) => name !== 'kustomization.yaml').sort())
    const labels = pod.metadata.labels
    expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true)
    const service = ofKind('Service')
    expect(matches(service.spec.selector, labels)).toBe(true)
    for (const port of service.spec.ports as Array<{name: string; targetPort: string}>) {
      expect(container.ports.map((candidate) => candidate.name)).toContain(port.targetPort)
    }
    expect(ofKind('HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name})
    expect(ofKind('HorizontalPodAutoscaler').spec.minReplicas).toBeGreaterThanOrEqual(2)
    expect(matches(ofKind('PodDisruptionBudget').spec.selector.matchLabels, labels)).toBe(true)
    // Utilisation targets are fractions of the request: it must be there.
    expect(container.resources.requests).toEqual({cpu: expect.any(String), memory: expect.any(String)})
  })

  it('runs the image as the Containerfile builds it: its ENTRYPOINT with serve as args, its ports, its user, a read-only root', () => {
    const containerfile = readFileSync(join(REPO_ROOT, 'Containerfile'), 'utf8')
    expect(container.image).toBe('mnist-rnn:latest')
    expect(containerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/run\.js"\]$/m)
    expect(container.args[0]).toBe('serve')
    expect(flagValue(container.args, '--host')).toBe('0.0.0.0')
    const exposed = /^EXPOSE (.+)$/m.exec(containerfile)![1].split(/\s+/).map(Number)
    expect(container.ports.map((port) => port.containerPort).sort()).toEqual(exposed.sort())
    expect(container.ports.map((port) => [port.name, port.containerPort])).toEqual([
      ['http', Number(flagValue(container.args, '--port'))],
      ['grpc', Number(flagValue(container.args, '--grpc-port'))],
    ])
    const user = /^USER (\d+):(\d+)$/m.exec(containerfile)!
    expect(pod.spec.securityContext).toMatchObject({runAsNonRoot: true, runAsUser: Number(user[1])})
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true)
  })

  it('fits the whole drain (preStop, --drain-grace-seconds, the listener quiet wait, --drain-timeout-seconds) in terminationGracePeriodSeconds', () => {
    const [sleep, seconds] = container.lifecycle.preStop.exec.command
    expect(sleep).toBe('/bin/sleep')
    const grace = Number(flagValue(container.args, '--drain-grace-seconds'))
    const timeout = Number(flagValue(container.args, '--drain-timeout-seconds'))
    expect(grace).toBeGreaterThan(0)
    expect(Number(seconds) + grace + LISTENER_QUIET_LIMIT_MS / 1000 + timeout).toBeLessThan(pod.spec.terminationGracePeriodSeconds)
  })

  it('serve started with those args answers every probe on the port it names, and the Prometheus annotations', async () => {
    const get = async (httpGet: HttpGet) => {
      const response = await fetch(`http://127.0.0.1:${testPort(httpGet.port)}${httpGet.path}`)
      return {status: response.status, json: await response.json()}
    }
    expect(await get(container.startupProbe.httpGet)).toMatchObject({status: 200, json: {status: 'ok', model: 'mnist', version: 1}})
    expect(await get(container.livenessProbe.httpGet)).toMatchObject({status: 200, json: {status: 'ok'}})
    expect(await get(container.readinessProbe.httpGet)).toEqual({status: 200, json: {status: 'ready', model: 'mnist', version: 1}})
    const {annotations} = pod.metadata
    const metrics = await fetch(`http://127.0.0.1:${testPort(Number(annotations['prometheus.io/port']))}${annotations['prometheus.io/path']}`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toContain('mnist_serving_requests_total{route="readyz",status="200"}')
  })

  it("the Service's ports reach REST and gRPC", async () => {
    const ports = ofKind('Service').spec.ports as Array<{name: string; targetPort: string; appProtocol?: string}>
    const http = ports.find((port) => port.name === 'http')!
    expect((await fetch(`http://127.0.0.1:${testPort(http.targetPort)}/v1/models/mnist`)).status).toBe(200)
    const grpc = ports.find((port) => port.name === 'grpc')!
    expect(grpc.appProtocol).toBe('grpc')
    const client = new GrpcServingClient(`127.0.0.1:${testPort(grpc.targetPort)}`)
    try {
      expect(await client.status()).toEqual([{version: 1, state: 'AVAILABLE', errorMessage: ''}])
    } finally {
      client.close()
    }
  })

  it('drains and exits 0 on SIGTERM, as the kubelet stops the pod after preStop', async () => {
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = await exited
    expect(code).toBe(0)
    const grace = flagValue(container.args, '--drain-grace-seconds')
    expect(output).toContain(`SIGTERM: draining (not ready); answering for ${grace} s more, then finishing the requests under way…`)
    expect(output).toContain('Stopped.')
  })
})

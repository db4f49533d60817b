import {availableParallelism} from 'node:os'

import {BackendChoice} from '../backend.js'
import {UserError} from '../core/errors.js'
import {DEFAULT_EXPORT_DIR} from '../export/format.js'
import {requireInteger} from '../core/validation.js'
import {ENGINE_CHOICES, EngineChoice, EngineName} from '../export/engines/engine.js'
import {VersionPolicy} from './api.js'

export const DEFAULT_MODEL_NAME = 'mnist'
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 5000

/** What `mnist-rnn serve` runs with. */
export interface ServeOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  modelDir: string
  modelName: string
  /** Serve only this version (the same as `versions: specific:N`). */
  version?: number
  /** Which versions are loaded and AVAILABLE at once (--versions); default latest:1. */
  versionPolicy: VersionPolicy
  /** Version labels (--label NAME=VERSION): `/labels/NAME` and gRPC `version_label` route to VERSION. */
  labels: Record<string, number>
  /**
   * A TF Serving ModelServerConfig (text format) naming the model, its base path, version policy
   * and labels; re-read every poll, so policy and labels change without a restart. It replaces
   * modelDir, modelName, versionPolicy and labels.
   */
  modelConfigFile?: string
  maxBatchSize: number
  batchTimeoutMs: number
  maxQueue: number
  /** False: one forward pass per request (`--no-batching`). */
  batching: boolean
  /** Inference worker threads; 0 runs inference on the serving thread. Default: the engine's (see defaultWorkers). */
  workers?: number
  pollSeconds: number
  /** Largest JSON body, in body-parser's notation ("1mb", "512kb"). */
  bodyLimit: string
  /** The tfjs engine's backend, chosen by each inference worker (auto: tensorflow, else wasm, else cpu). */
  backend: BackendChoice
  /** Serve the drawing page at `GET /` to browsers (`--no-ui` turns it off). */
  ui: boolean
  /** What runs the versions (auto, the default: onnxruntime when it loads and the version has model.onnx, else tfjs). */
  engine?: EngineChoice
  /** ONNX Runtime's intra-op threads per session. Default: DEFAULT_ONNX_THREADS. */
  onnxThreads?: number
  /** After SIGTERM: seconds of answering on (not ready, `Connection: close`) before the listener closes. */
  drainGraceSeconds: number
  /** After the listener closed: seconds requests under way get before their connections are cut. */
  drainTimeoutSeconds: number
}

export const SERVE_DEFAULTS = {
  host: DEFAULT_HOST,
  port: DEFAULT_PORT,
  modelDir: DEFAULT_EXPORT_DIR,
  modelName: DEFAULT_MODEL_NAME,
  maxBatchSize: 64,
  batchTimeoutMs: 2,
  maxQueue: 1024,
  batching: true,
  pollSeconds: 5,
  engine: 'auto',
  bodyLimit: '1mb',
  ui: true,
  versionPolicy: {kind: 'latest', numVersions: 1} as VersionPolicy,
  labels: {} as Record<string, number>,
  drainGraceSeconds: 0,
  drainTimeoutSeconds: 30,
} as const

/**
 * Sizing for this machine's cores (measured with bench/serve.ts; see README "Engines"):
 * tfjs: one worker thread per core, each running its own forward passes;
 * onnxruntime: one worker with one intra-op thread. On 2 cores, REST at concurrency 64, the sizes
 * 1×1, 1×2, 0×1 and 0×2 (workers × intra-op threads) all served 5,500–10,000 requests/s with p99
 * 12–33 ms, their order within a run mattering more than the size; one worker keeps the worker's
 * restart-and-retry on a crash, and one intra-op thread leaves the other core to HTTP.
 */
export function defaultWorkers(engine: EngineName): number {
  return engine === 'tfjs' ? availableParallelism() : DEFAULT_ONNX_WORKERS
}
export const DEFAULT_ONNX_WORKERS = 1
export const DEFAULT_ONNX_THREADS = 1

const BODY_LIMIT_PATTERN = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i
const BYTES_PER_UNIT: Record<string, number> = {b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3}

/** Bytes in a size like "1mb" or "512kb" (binary units, as body-parser reads them); NaN if malformed. */
export function parseByteSize(text: string): number {
  const match = BODY_LIMIT_PATTERN.exec(text.trim())
  if (!match) return Number.NaN
  return Math.floor(Number(match[1]) * BYTES_PER_UNIT[(match[2] ?? 'b').toLowerCase()])
}
const MAX_PORT = 65535

const POLICY_SYNTAX = 'latest, latest:N, all or specific:V1,V2,…'

function positiveWholeNumber(text: string): number | undefined {
  return /^[1-9]\d*$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined
}

/** `latest`, `latest:N`, `all`, `specific:1,3` (--versions) as a VersionPolicy; a UserError otherwise. */
export function parseVersionPolicy(text: string): VersionPolicy {
  const [kind, argument, ...rest] = text.trim().split(':')
  const bad = (why: string) => new UserError(`--versions ${text}: ${why} (expected ${POLICY_SYNTAX})`)
  if (rest.length > 0) throw bad('too many ":"')
  if (kind === 'all' && argument === undefined) return {kind: 'all'}
  if (kind === 'latest') {
    if (argument === undefined) return {kind: 'latest', numVersions: 1}
    const numVersions = positiveWholeNumber(argument)
    if (numVersions === undefined) throw bad(`"${argument}" is not a whole number ≥ 1`)
    return {kind: 'latest', numVersions}
  }
  if (kind === 'specific' && argument !== undefined) {
    const versions = argument.split(',').map((part) => {
      const version = positiveWholeNumber(part.trim())
      if (version === undefined) throw bad(`"${part}" is not a version number`)
      return version
    })
    if (new Set(versions).size !== versions.length) throw bad('a version is named twice')
    return {kind: 'specific', versions: versions.sort((a, b) => b - a)}
  }
  throw bad(`unknown policy`)
}

/** The policy in --versions notation. */
export function formatVersionPolicy(policy: VersionPolicy): string {
  if (policy.kind === 'all') return 'all'
  if (policy.kind === 'specific') return `specific:${policy.versions.join(',')}`
  return policy.numVersions === 1 ? 'latest' : `latest:${policy.numVersions}`
}

/** A version label as the REST paths can carry it: a non-empty word without "/", ":" or spaces. */
export function checkLabelName(label: string, where: string): void {
  if (!/^[^/:\s]+$/.test(label)) throw new UserError(`${where}: a label must be a word without "/", ":" or spaces, got "${label}"`)
}

/** `--label stable=1 --label canary=2` as {stable: 1, canary: 2}; a UserError naming a bad one. */
export function parseLabels(flags: string[]): Record<string, number> {
  const labels: Record<string, number> = {}
  for (const flag of flags) {
    const match = /^([^=]*)=(.*)$/.exec(flag.trim())
    if (!match) throw new UserError(`--label ${flag}: expected NAME=VERSION, e.g. --label canary=2`)
    const [, label, versionText] = match
    checkLabelName(label, `--label ${flag}`)
    const version = positiveWholeNumber(versionText.trim())
    if (version === undefined) throw new UserError(`--label ${flag}: "${versionText}" is not a version number`)
    if (label in labels) throw new UserError(`--label ${flag}: label "${label}" is given twice`)
    labels[label] = version
  }
  return labels
}

/** UserError naming the first option out of range. */
export function checkServeOptions(options: ServeOptions): void {
  requireInteger(options.port, '--port', 0)
  if (options.port > MAX_PORT) throw new UserError(`--port must be at most ${MAX_PORT}, got ${options.port}`)
  requireInteger(options.maxBatchSize, '--max-batch-size', 1)
  requireInteger(options.maxQueue, '--max-queue', 1)
  requireInteger(options.workers, '--workers', 0)
  requireInteger(options.onnxThreads, '--onnx-threads', 1)
  if (options.engine !== undefined && !ENGINE_CHOICES.includes(options.engine)) throw new UserError(`--engine must be one of ${ENGINE_CHOICES.join(', ')}, got ${options.engine}`)
  requireInteger(options.version, '--version', 1)
  if (!(options.batchTimeoutMs >= 0)) throw new UserError(`--batch-timeout-ms must be ≥ 0, got ${options.batchTimeoutMs}`)
  if (!(options.drainGraceSeconds >= 0)) throw new UserError(`--drain-grace-seconds must be ≥ 0, got ${options.drainGraceSeconds}`)
  if (!(options.drainTimeoutSeconds > 0)) throw new UserError(`--drain-timeout-seconds must be > 0, got ${options.drainTimeoutSeconds}`)
  if (!(options.pollSeconds > 0)) throw new UserError(`--poll-seconds must be > 0, got ${options.pollSeconds}`)
  if (!(parseByteSize(options.bodyLimit) > 0)) throw new UserError(`--body-limit must be a size like 1mb or 512kb, got ${options.bodyLimit}`)
  checkModelName(options.modelName, '--model-name')
  if (options.version !== undefined && formatVersionPolicy(options.versionPolicy) !== formatVersionPolicy(SERVE_DEFAULTS.versionPolicy)) {
    throw new UserError('--version and --versions cannot be given together (--version N is --versions specific:N)')
  }
  for (const [label, version] of Object.entries(options.labels)) {
    checkLabelName(label, '--label')
    requireInteger(version, `--label ${label}`, 1)
  }
}

/** A model name as the REST paths can carry it: a non-empty word without "/", ":" or spaces. */
export function checkModelName(name: string, where: string): void {
  if (!name || /[/:\s]/.test(name)) throw new UserError(`${where} must be a word without "/", ":" or spaces, got "${name}"`)
}

/** The version policy `options` ask for: --versions, or specific:N for --version N. */
export function versionPolicyOf(options: ServeOptions): VersionPolicy {
  return options.version === undefined ? options.versionPolicy : {kind: 'specific', versions: [options.version]}
}

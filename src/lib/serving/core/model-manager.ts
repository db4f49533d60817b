import {join} from 'node:path'

import {UserError, errorMessage} from '../../core/errors.js'
import {signatureDefsOf} from '../../export/format.js'
import {folderProblemOf, verifyExportFolder} from '../../export/read.js'
import {VerifiedVersion} from '../inference/model-runner.js'
import {ModelMetadata, ServingError, ServingLog, VersionStatus} from '../api.js'
import {SignatureDef} from '../../export/format.js'
import {VersionFolder, scanVersionFolders} from './version-source.js'
import {requireDirectory} from '../../core/files.js'

/** A UserError when the model directory is missing or not a folder. */
export function checkModelDir(modelDir: string): void {
  requireDirectory(modelDir, 'model directory', ' (export a model first: mnist-rnn export)')
}

/** Where versions are loaded to be run (the inference workers). */
export interface ModelEngine {
  load(version: VerifiedVersion): Promise<void>
  unload(version: number): void
}

export interface ModelManagerOptions {
  modelDir: string
  modelName: string
  /** Serve exactly this version (no polling); otherwise the highest valid one, watched for newer. */
  pinnedVersion?: number
  pollIntervalMs: number
  log: ServingLog
  /** Told whenever a version starts being served. */
  onServedVersion?: (version: number) => void
}

/** A version in use by a request; release it when the answer is in. */
export interface VersionLease {
  version: number
  signatures: Record<string, SignatureDef>
  release(): void
}

interface ServedVersion {
  version: number
  signatures: Record<string, SignatureDef>
  leases: number
  retired: boolean
}

/**
 * TF Serving's AspiredVersionsManager with the "latest" policy: serves the highest version of the
 * model directory that loads (or the pinned one), polls for newer ones, loads, verifies
 * (signature, sha256 checksums) and warms a new version in every worker before swapping it in.
 * Requests already holding the old version finish on it; it is unloaded after the last one.
 * A version that fails is logged and remembered (until its folder changes); the old one keeps serving.
 */
export class ModelManager {
  private current: ServedVersion | undefined
  private readonly statuses = new Map<number, VersionStatus>()
  /** Refused versions and the folder fingerprint they were refused with. */
  private readonly refused = new Map<number, string>()
  private pollTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly options: ModelManagerOptions,
    private readonly engine: ModelEngine,
  ) {}

  get modelName(): string {
    return this.options.modelName
  }

  /** Loads the first version to serve; a UserError when none can be served. */
  async start(): Promise<void> {
    const {modelDir, pinnedVersion} = this.options
    checkModelDir(modelDir)
    if (pinnedVersion !== undefined) {
      const folder = scanVersionFolders(modelDir).find((candidate) => candidate.version === pinnedVersion)
      if (!folder) throw new UserError(`${join(modelDir, String(pinnedVersion))}: no such version`)
      const failure = await this.tryLoad(folder)
      if (failure) throw new UserError(`cannot serve version ${pinnedVersion}: ${failure}`)
      return
    }
    const folders = scanVersionFolders(modelDir)
    if (folders.length === 0) throw new UserError(`${modelDir} holds no model versions (export one: mnist-rnn export --export-dir ${modelDir})`)
    const failures: string[] = []
    for (const folder of folders) {
      const failure = await this.tryLoad(folder)
      if (!failure) break
      failures.push(`version ${folder.version}: ${failure}`)
    }
    if (!this.current) throw new UserError(`no servable version in ${modelDir}: ${failures.join('; ')}`)
    this.schedulePoll()
  }

  stop(): void {
    this.stopped = true
    if (this.pollTimer) clearTimeout(this.pollTimer)
  }

  /** NOT_FOUND for another model name, as TF Serving answers. */
  checkModelName(modelName: string): void {
    if (modelName !== this.options.modelName) throw new ServingError('NOT_FOUND', `Servable not found for request: Latest(${modelName})`)
  }

  /** The served version (or `version`, if it is the one served), held until `release()`. */
  acquire(version?: number): VersionLease {
    const served = this.servedOrThrow(version)
    served.leases++
    let released = false
    return {
      version: served.version,
      signatures: served.signatures,
      release: () => {
        if (released) return
        released = true
        served.leases--
        if (served.retired && served.leases === 0) this.unload(served)
      },
    }
  }

  metadata(version?: number): ModelMetadata {
    const served = this.servedOrThrow(version)
    return {modelName: this.options.modelName, version: served.version, signatures: served.signatures}
  }

  /** Every version known (served, retired, refused), highest first; or only `version`. */
  status(version?: number): VersionStatus[] {
    if (version !== undefined) {
      const status = this.statuses.get(version)
      if (!status) throw new ServingError('NOT_FOUND', `Could not find version ${version} of model ${this.options.modelName}`)
      return [{...status}]
    }
    return [...this.statuses.values()].sort((a, b) => b.version - a.version).map((status) => ({...status}))
  }

  /** One scan of the model directory: loads the highest new version that works, if any. */
  async poll(): Promise<void> {
    let folders: VersionFolder[]
    try {
      folders = scanVersionFolders(this.options.modelDir)
    } catch (error) {
      this.options.log.warn(`${errorMessage(error)}; still serving version ${this.current?.version}`)
      return
    }
    const servedVersion = this.current?.version ?? 0
    for (const folder of folders) {
      if (this.stopped || folder.version <= servedVersion) return
      if (this.refused.get(folder.version) === folder.fingerprint) continue
      if (!(await this.tryLoad(folder))) return
    }
  }

  private servedOrThrow(version?: number): ServedVersion {
    const served = this.current
    if (!served) throw new ServingError('UNAVAILABLE', `no version of model ${this.options.modelName} is loaded yet`, 1)
    if (version !== undefined && version !== served.version) {
      throw new ServingError('NOT_FOUND', `Servable not found for request: Specific(${this.options.modelName}, ${version}); serving version ${served.version}`)
    }
    return served
  }

  private schedulePoll(): void {
    if (this.stopped || this.options.pinnedVersion !== undefined) return
    this.pollTimer = setTimeout(() => {
      this.poll().finally(() => this.schedulePoll())
    }, this.options.pollIntervalMs)
    this.pollTimer.unref()
  }

  /** Verifies, loads and warms a version folder and swaps it in; the reason when it fails. */
  private async tryLoad(folder: VersionFolder): Promise<string | undefined> {
    const {version} = folder
    this.statuses.set(version, {version, state: 'LOADING', errorMessage: ''})
    try {
      const verified = verifyExportFolder(folder.path)
      const signatures = signatureDefsOf(verified.signature)
      await this.engine.load({version, hidden: verified.hidden, weights: verified.weightArrays, onnxModel: verified.onnxModel})
      this.swapIn({version, signatures, leases: 0, retired: false})
      this.refused.delete(version)
      return undefined
    } catch (error) {
      const reason = folderProblemOf(folder.path, error)
      this.statuses.set(version, {version, state: 'END', errorMessage: reason})
      this.refused.set(version, folder.fingerprint)
      const still = this.current ? `; still serving version ${this.current.version}` : ''
      this.options.log.warn(`version ${version} of ${this.options.modelName} refused: ${reason}${still}`)
      return reason
    }
  }

  private swapIn(next: ServedVersion): void {
    const previous = this.current
    this.current = next
    this.statuses.set(next.version, {version: next.version, state: 'AVAILABLE', errorMessage: ''})
    this.options.onServedVersion?.(next.version)
    if (previous) {
      this.options.log.info(`serving ${this.options.modelName} version ${next.version} (replaces version ${previous.version})`)
      previous.retired = true
      this.statuses.set(previous.version, {version: previous.version, state: 'UNLOADING', errorMessage: ''})
      if (previous.leases === 0) this.unload(previous)
    }
  }

  private unload(served: ServedVersion): void {
    this.engine.unload(served.version)
    this.statuses.set(served.version, {version: served.version, state: 'END', errorMessage: ''})
  }
}

import {readFileSync} from 'node:fs'

import {UserError, errorMessage} from '../../core/errors.js'
import {SignatureDef, signatureDefsOf} from '../../export/format.js'
import {folderProblemOf, verifyExportFolder} from '../../export/read.js'
import {requireDirectory} from '../../core/files.js'
import {VerifiedVersion} from '../inference/model-runner.js'
import {ModelMetadata, ServingError, ServingLog, VersionChoice, VersionPolicy, VersionStatus} from '../api.js'
import {formatVersionPolicy} from '../options.js'
import {parseModelConfig} from './model-config.js'
import {VersionFolder, aspiredVersions, scanVersionFolders} from './version-source.js'

/** A UserError when the model directory is missing or not a folder. */
export function checkModelDir(modelDir: string): void {
  requireDirectory(modelDir, 'model directory', ' (export a model first: mnist-rnn export)')
}

/** Where versions are loaded to be run (the inference workers). */
export interface ModelEngine {
  load(version: VerifiedVersion): Promise<void>
  unload(version: number): void
}

/** A loaded version and the bytes of weights it holds (in each inference worker). */
export interface LoadedVersionInfo {
  version: number
  weightBytes: number
}

/** What the manager serves, as told to `onChange`: AVAILABLE versions (highest first) and labels. */
export interface ManagerSnapshot {
  available: LoadedVersionInfo[]
  labels: Record<string, number>
}

export interface ModelManagerOptions {
  modelDir: string
  modelName: string
  /** Which versions to load and keep AVAILABLE at once. */
  policy: VersionPolicy
  /** Label → version; each must name an AVAILABLE version. */
  labels: Record<string, number>
  /**
   * A model config file (TF Serving's ModelServerConfig) re-read on every poll: when it changes,
   * its version policy and labels replace the current ones (its name and base_path may not change).
   */
  configFile?: string
  pollIntervalMs: number
  log: ServingLog
  /** Told whenever the AVAILABLE versions or the labels change. */
  onChange?: (snapshot: ManagerSnapshot) => void
}

/** A version in use by a request; release it when the answer is in. */
export interface VersionLease {
  version: number
  signatures: Record<string, SignatureDef>
  release(): void
}

interface LoadedVersion extends LoadedVersionInfo {
  signatures: Record<string, SignatureDef>
  leases: number
  /** No new requests; unloaded once the last lease is released. */
  retired: boolean
}

function weightBytesOf(model: VerifiedVersion): number {
  return Object.values(model.weights).reduce((sum, array) => sum + array.byteLength, 0)
}

function describeLabels(labels: Map<string, number>): string {
  if (labels.size === 0) return 'none'
  return [...labels]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, version]) => `${label}=${version}`)
    .join(', ')
}

/**
 * TF Serving's AspiredVersionsManager over its file-system source, with the availability
 * preserving policy. The version folders on disk are the source of truth: every poll, the version
 * policy (latest:N, all, specific) picks the versions to serve among the folders that have not
 * failed; those not loaded yet are loaded, verified (signature, sha256 checksums) and warmed in
 * every worker, and only then are versions no longer aspired (folder removed, policy changed)
 * unloaded, so that no request finds nothing to run on. A version that fails is logged, reported
 * in the status API and remembered until its folder changes; the next one down is tried. When no
 * version the policy wants can be served, the loaded ones stay (reported in the status and the
 * log) until one can. Requests already holding a version finish on it; it is unloaded after the
 * last one. Labels map names to AVAILABLE versions.
 */
export class ModelManager {
  private readonly loaded = new Map<number, LoadedVersion>()
  private readonly statuses = new Map<number, VersionStatus>()
  /** Refused versions and the folder fingerprint they were refused with. */
  private readonly refused = new Map<number, string>()
  private policy: VersionPolicy
  private labels: Map<string, number>
  /** Labels read from the config file that cannot be applied yet (a version not AVAILABLE). */
  private pendingLabels: Map<string, number> | undefined
  private configText: string | undefined
  /** The last warning of each kind, so that a poll repeats none of them. */
  private readonly warned = new Map<string, string>()
  private pollTimer: NodeJS.Timeout | undefined
  private stopped = false
  /** Polls run one at a time. */
  private queue: Promise<void> = Promise.resolve()

  constructor(
    private readonly options: ModelManagerOptions,
    private readonly engine: ModelEngine,
  ) {
    this.policy = options.policy
    this.labels = new Map(Object.entries(options.labels))
  }

  get modelName(): string {
    return this.options.modelName
  }

  /** The version unversioned requests get: the highest AVAILABLE one. */
  get servedVersion(): number | undefined {
    return this.availableVersions()[0]
  }

  /** AVAILABLE versions, highest first. */
  availableVersions(): number[] {
    return [...this.loaded.values()]
      .filter((loaded) => !loaded.retired)
      .map((loaded) => loaded.version)
      .sort((a, b) => b - a)
  }

  get versionPolicy(): VersionPolicy {
    return this.policy
  }

  versionLabels(): Record<string, number> {
    return Object.fromEntries([...this.labels].sort(([a], [b]) => a.localeCompare(b)))
  }

  /** Loads the versions to serve; a UserError when none can be served or a label names none. */
  async start(): Promise<void> {
    const {modelDir, configFile} = this.options
    checkModelDir(modelDir)
    if (configFile) {
      this.configText = readFileSync(configFile, 'utf8')
      const config = parseModelConfig(this.configText, configFile)
      this.policy = config.policy
      this.labels = new Map(Object.entries(config.labels))
    }
    const folders = scanVersionFolders(modelDir)
    if (folders.length === 0) throw new UserError(`${modelDir} holds no model versions (export one: mnist-rnn export --export-dir ${modelDir})`)
    const failures = await this.reconcile(folders, false)
    if (this.loaded.size === 0) {
      const onDisk = folders.map((folder) => folder.version)
      if (aspiredVersions(this.policy, onDisk).length === 0) {
        throw new UserError(`no version in ${modelDir} fits --versions ${formatVersionPolicy(this.policy)} (versions here: ${onDisk.join(', ')})`)
      }
      throw new UserError(`no servable version in ${modelDir}: ${failures.join('; ')}`)
    }
    const labelProblem = this.labelProblem(this.labels)
    if (labelProblem) throw new UserError(`${configFile ?? '--label'}: ${labelProblem}`)
    this.notify()
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

  /** The version `choice` names (default: the highest AVAILABLE), held until `release()`. */
  acquire(choice?: VersionChoice): VersionLease {
    const served = this.resolve(choice)
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

  metadata(choice?: VersionChoice): ModelMetadata {
    const served = this.resolve(choice)
    return {modelName: this.options.modelName, version: served.version, signatures: served.signatures}
  }

  /** Every version known (loaded, unloaded, refused), highest first; or the one `choice` names. */
  status(choice?: VersionChoice): VersionStatus[] {
    if (choice !== undefined) {
      const version = typeof choice === 'number' ? choice : this.versionOfLabel(choice.label)
      const status = this.statuses.get(version)
      if (!status) throw new ServingError('NOT_FOUND', `Could not find version ${version} of model ${this.options.modelName}`)
      return [{...status}]
    }
    return [...this.statuses.values()].sort((a, b) => b.version - a.version).map((status) => ({...status}))
  }

  /** One poll: the model config file (if any), then the model directory; resolves when done. */
  poll(): Promise<void> {
    this.queue = this.queue.then(() => this.pollOnce())
    return this.queue
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped) return
    if (this.options.configFile) this.reloadConfig(this.options.configFile)
    let folders: VersionFolder[]
    try {
      folders = scanVersionFolders(this.options.modelDir)
      this.warned.delete('scan')
    } catch (error) {
      this.warnOnce('scan', `${errorMessage(error)}; still serving version ${this.availableVersions().join(', ')}`)
      return
    }
    await this.reconcile(folders, true)
    if (this.pendingLabels) this.applyPendingLabels()
    this.notify()
  }

  /**
   * Loads what the policy aspires to (highest first; a version that fails is refused and the
   * policy asked again), then unloads what it no longer aspires to, if that leaves a version
   * AVAILABLE. Returns why versions failed.
   */
  private async reconcile(folders: VersionFolder[], logChanges: boolean): Promise<string[]> {
    const before = this.availableVersions()
    const onDisk = new Map(folders.map((folder) => [folder.version, folder]))
    for (const [version, fingerprint] of this.refused) if (onDisk.get(version)?.fingerprint !== fingerprint) this.refused.delete(version)
    const aspired = () => aspiredVersions(this.policy, [...onDisk.keys()].filter((version) => !this.refused.has(version)))
    const failures: string[] = []
    for (;;) {
      if (this.stopped) return failures
      const next = aspired().find((version) => !this.loaded.has(version) || this.loaded.get(version)!.retired)
      if (next === undefined) break
      const retired = this.loaded.get(next)
      if (retired) {
        // Aspired again before its last request let it go: it stays.
        retired.retired = false
        this.statuses.set(next, {version: next, state: 'AVAILABLE', errorMessage: ''})
        continue
      }
      const failure = await this.tryLoad(onDisk.get(next)!)
      if (failure) failures.push(`version ${next}: ${failure}`)
    }
    this.retireUnaspired(new Set(aspired()), onDisk)
    if (logChanges) this.logChanges(before)
    return failures
  }

  /** Unloads AVAILABLE versions the policy no longer aspires to, unless none would be left. */
  private retireUnaspired(aspired: Set<number>, onDisk: Map<number, VersionFolder>): void {
    const available = this.availableVersions()
    const unaspired = available.filter((version) => !aspired.has(version))
    const why = (version: number) =>
      onDisk.has(version) ? `the version policy ${formatVersionPolicy(this.policy)} no longer includes it` : 'its folder was removed'
    for (const version of available) {
      if (aspired.has(version) && this.statuses.get(version)?.errorMessage) this.statuses.set(version, {version, state: 'AVAILABLE', errorMessage: ''})
    }
    if (unaspired.length === 0 || available.some((version) => aspired.has(version))) {
      this.warned.delete('kept')
      for (const version of unaspired) this.retire(this.loaded.get(version)!, why(version))
      return
    }
    // Availability preserving: nothing the policy wants can be served, so what serves stays.
    for (const version of unaspired) {
      const errorMessage = `${why(version)}, but no other version can be served: still serving it until one can`
      this.statuses.set(version, {version, state: 'AVAILABLE', errorMessage})
    }
    this.warnOnce('kept', `${this.options.modelName} version ${unaspired.join(', ')}: ${unaspired.map(why).join('; ')}, but no other version can be served; still serving it until one can`)
  }

  private logChanges(before: number[]): void {
    const after = this.availableVersions()
    const {log, modelName} = this.options
    if (after[0] !== before[0] && before.length > 0) {
      if (after.includes(before[0])) log.info(`${modelName}: unversioned requests now go to version ${after[0]} (version ${before[0]} stays available)`)
      else log.info(`serving ${modelName} version ${after[0]} (replaces version ${before[0]})`)
    }
    for (const version of after) if (!before.includes(version) && version !== after[0]) log.info(`version ${version} of ${modelName} is available`)
  }

  private resolve(choice?: VersionChoice): LoadedVersion {
    const available = this.availableVersions()
    const {modelName} = this.options
    if (available.length === 0) throw new ServingError('UNAVAILABLE', `no version of model ${modelName} is loaded yet`, 1)
    if (choice === undefined) return this.loaded.get(available[0])!
    const version = typeof choice === 'number' ? choice : this.versionOfLabel(choice.label)
    const served = this.loaded.get(version)
    if (!served || served.retired) {
      const label = typeof choice === 'number' ? '' : ` (label ${choice.label})`
      throw new ServingError('NOT_FOUND', `Servable not found for request: Specific(${modelName}, ${version})${label}; available versions: ${available.join(', ')}`)
    }
    return served
  }

  /** TF Serving's answer to an unknown label: INVALID_ARGUMENT. */
  private versionOfLabel(label: string): number {
    const version = this.labels.get(label)
    if (version === undefined) throw new ServingError('INVALID_ARGUMENT', `Unrecognized servable version label: ${label}`)
    return version
  }

  /** Why `labels` cannot be applied (TF Serving: a label may only name an AVAILABLE version), if so. */
  private labelProblem(labels: Map<string, number>): string | undefined {
    const available = this.availableVersions()
    for (const [label, version] of labels) {
      if (!available.includes(version)) {
        return `label ${label} names version ${version} of ${this.options.modelName}, which is not available (available: ${available.join(', ')})`
      }
    }
    return undefined
  }

  private reloadConfig(file: string): void {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
      this.warned.delete('config-read')
    } catch (error) {
      this.warnOnce('config-read', `cannot read the model config ${file}: ${errorMessage(error)}; keeping the current one`)
      return
    }
    if (text === this.configText) return
    this.configText = text
    let config
    try {
      config = parseModelConfig(text, file)
    } catch (error) {
      this.options.log.warn(`${errorMessage(error)}; keeping the current model config`)
      return
    }
    if (config.name !== this.options.modelName || config.basePath !== this.options.modelDir) {
      this.options.log.warn(`${file}: name and base_path cannot change while serving (restart for that); keeping the current model config`)
      return
    }
    const policyText = formatVersionPolicy(config.policy)
    if (policyText !== formatVersionPolicy(this.policy)) {
      this.options.log.info(`${file}: version policy of ${config.name} is now ${policyText} (was ${formatVersionPolicy(this.policy)})`)
      this.policy = config.policy
    }
    this.pendingLabels = new Map(Object.entries(config.labels))
    this.warned.delete('labels')
  }

  private applyPendingLabels(): void {
    const labels = this.pendingLabels!
    const problem = this.labelProblem(labels)
    if (problem) {
      this.warnOnce('labels', `${this.options.configFile}: ${problem}; keeping the labels ${describeLabels(this.labels)} until it is`)
      return
    }
    this.pendingLabels = undefined
    if (describeLabels(labels) !== describeLabels(this.labels)) {
      this.options.log.info(`${this.options.configFile}: labels of ${this.options.modelName} are now ${describeLabels(labels)} (were ${describeLabels(this.labels)})`)
      this.labels = labels
    }
  }

  private warnOnce(kind: string, message: string): void {
    if (this.warned.get(kind) === message) return
    this.warned.set(kind, message)
    this.options.log.warn(message)
  }

  private notify(): void {
    const available = this.availableVersions().map((version) => {
      const {weightBytes} = this.loaded.get(version)!
      return {version, weightBytes}
    })
    this.options.onChange?.({available, labels: this.versionLabels()})
  }

  private schedulePoll(): void {
    if (this.stopped) return
    this.pollTimer = setTimeout(() => {
      this.poll().finally(() => this.schedulePoll())
    }, this.options.pollIntervalMs)
    this.pollTimer.unref()
  }

  /** Verifies, loads and warms a version folder and makes it AVAILABLE; the reason when it fails. */
  private async tryLoad(folder: VersionFolder): Promise<string | undefined> {
    const {version} = folder
    this.statuses.set(version, {version, state: 'LOADING', errorMessage: ''})
    try {
      const verified = verifyExportFolder(folder.path)
      const signatures = signatureDefsOf(verified.signature)
      const model = {version, hidden: verified.hidden, weights: verified.weightArrays, onnxModel: verified.onnxModel}
      await this.engine.load(model)
      this.loaded.set(version, {version, signatures, weightBytes: weightBytesOf(model), leases: 0, retired: false})
      this.statuses.set(version, {version, state: 'AVAILABLE', errorMessage: ''})
      return undefined
    } catch (error) {
      const reason = folderProblemOf(folder.path, error)
      this.statuses.set(version, {version, state: 'END', errorMessage: reason})
      this.refused.set(version, folder.fingerprint)
      const available = this.availableVersions()
      const still = available.length > 0 ? `; still serving version ${available.join(', ')}` : ''
      this.options.log.warn(`version ${version} of ${this.options.modelName} refused: ${reason}${still}`)
      return reason
    }
  }

  private retire(loaded: LoadedVersion, reason: string): void {
    loaded.retired = true
    this.statuses.set(loaded.version, {version: loaded.version, state: 'UNLOADING', errorMessage: ''})
    this.options.log.info(`unloading version ${loaded.version} of ${this.options.modelName}: ${reason}`)
    if (loaded.leases === 0) this.unload(loaded)
  }

  private unload(loaded: LoadedVersion): void {
    this.loaded.delete(loaded.version)
    this.engine.unload(loaded.version)
    this.statuses.set(loaded.version, {version: loaded.version, state: 'END', errorMessage: ''})
  }
}

import {cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach} from 'vitest'

import {ModelManager, ModelManagerOptions} from '../../../src/lib/serving/core/model-manager.js'
import {makeTempDir} from '../../helpers/cli.js'
import {recordingLog} from '../../helpers/serving-log.js'
import {writeTestExport} from '../serving-fixtures.js'
import {FakeEngine} from './fake-engine.js'

export const MODEL_NAME = 'mnist'
/** Long enough that no poll comes on its own while a test calls poll() itself. */
export const POLL_INTERVAL_MS = 60_000

const managers: ModelManager[] = []

/** Stops every manager managerOf made (their poll timers). */
export function stopManagers(): void {
  for (const manager of managers.splice(0)) manager.stop()
}

/**
 * The hooks every ModelManager test file shares: one model directory for the file, emptied before
 * each test and then given `versions`, and the managers stopped after each test. Returns the
 * directory (there once the file's beforeAll has run).
 */
export function modelDirectoryPerTest(...versions: number[]): () => ModelDirectory {
  let models: ModelDirectory
  beforeAll(async () => {
    models = await ModelDirectory.create()
  })
  afterAll(() => models.cleanup())
  afterEach(() => stopManagers())
  beforeEach(() => {
    models.clear()
    models.publish(...versions)
  })
  return () => models
}

/**
 * A model directory that a test fills with version folders: each a copy of one real export
 * (verified, checksummed), published by a rename as `mnist-rnn export` publishes.
 */
export class ModelDirectory {
  private constructor(
    private readonly root: string,
    private readonly template: string,
    readonly cleanup: () => void,
  ) {}

  static async create(): Promise<ModelDirectory> {
    const temp = makeTempDir('mnist-rnn-model-dir-')
    await writeTestExport(join(temp.dir, 'template'), 1, 1)
    mkdirSync(join(temp.dir, 'models'))
    return new ModelDirectory(temp.dir, join(temp.dir, 'template', '1'), temp.cleanup)
  }

  get dir(): string {
    return join(this.root, 'models')
  }

  versionPath(version: number): string {
    return join(this.dir, String(version))
  }

  publish(...versions: number[]): void {
    for (const version of versions) {
      const staging = join(this.root, `staging-${version}`)
      cpSync(this.template, staging, {recursive: true})
      renameSync(staging, this.versionPath(version))
    }
  }

  /** A copy of the template under any folder name (names a scanner must ignore, say). */
  publishAs(name: string): void {
    cpSync(this.template, join(this.dir, name), {recursive: true})
  }

  /** Publishes `version` with one byte of weights.bin flipped: it fails its recorded sha256. */
  publishCorrupt(version: number): void {
    this.publish(version)
    const weights = join(this.versionPath(version), 'weights.bin')
    const bytes = readFileSync(weights)
    bytes[bytes.length - 1] ^= 0xff
    writeFileSync(weights, bytes)
  }

  /** A version folder holding only some of its files, as a copy still in progress would. */
  publishPartly(version: number, files: string[]): void {
    cpSync(this.template, this.versionPath(version), {recursive: true, filter: (source) => source === this.template || files.some((name) => source.endsWith(name))})
  }

  /** Copies the files `publishPartly` left out. */
  complete(version: number): void {
    cpSync(this.template, this.versionPath(version), {recursive: true})
  }

  /** Removes version folders (and anything else) from the model directory. */
  clear(): void {
    rmSync(this.dir, {recursive: true, force: true})
    mkdirSync(this.dir)
  }

  remove(version: number): void {
    rmSync(this.versionPath(version), {recursive: true, force: true})
  }
}

/**
 * A ModelManager over `models` (the "latest" policy unless `options` say otherwise) with a fake
 * engine and a recording log; `served` lists each version unversioned requests went to, in turn.
 */
export function managerOf(models: ModelDirectory, options: Partial<ModelManagerOptions> = {}) {
  const engine = new FakeEngine()
  const recorded = recordingLog()
  const served: number[] = []
  const manager = new ModelManager(
    {
      modelDir: models.dir,
      modelName: MODEL_NAME,
      policy: {kind: 'latest', numVersions: 1},
      labels: {},
      pollIntervalMs: POLL_INTERVAL_MS,
      log: recorded.log,
      onChange: ({available}) => {
        const highest = available[0]?.version
        if (highest !== undefined && highest !== served.at(-1)) served.push(highest)
      },
      ...options,
    },
    engine,
  )
  managers.push(manager)
  return {manager, engine, served, ...recorded}
}

import * as tf from '@tensorflow/tfjs'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {ExportSignature, exportFolderHandler, listExportVersions} from '../../src/lib/export/index.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {loadCheckpoint} from '../../src/lib/training/checkpoint.js'
import {linesOf, makeTempDir, runCliAsync, startCli} from '../helpers/cli.js'

const TEST_LIMIT = '200'
/** Exports through the library and stops half-way (see the fixture). */
const PAUSED_EXPORT = join(import.meta.dirname, 'fixtures', 'export-paused-child.ts')

describe('mnist-rnn export', () => {
  const temp = makeTempDir('mnist-rnn-export-cli-')
  const checkpointDir = join(temp.dir, 'checkpoints')
  const exportDir = join(temp.dir, 'exportmodel')
  const exportArgs = (...extra: string[]) => ['export', '--checkpoint-dir', checkpointDir, '--export-dir', exportDir, '--limit', TEST_LIMIT, ...extra]

  beforeAll(async () => {
    const trained = await runCliAsync(['train', '--limit', '512', '--steps', '5', '--hidden', '16', '--checkpoint-dir', checkpointDir])
    expect(trained.status, trained.stderr).toBe(0)
    await selectBackend('wasm')
  })
  afterAll(() => temp.cleanup())

  it('writes version 2 with the four files, verified predictions and a size smaller than the checkpoint; refuses a second --version 2 without --force', async () => {
    const first = await runCliAsync(exportArgs('--version', '2', '--json'))
    expect(first.status, first.stderr).toBe(0)
    const result = JSON.parse(first.stdout)
    expect(result).toMatchObject({version: 2, path: join(exportDir, '2'), replaced: false, testImages: 200})
    expect(readdirSync(join(exportDir, '2')).sort()).toEqual(['model.json', 'model.onnx', 'signature.json', 'weights.bin'])
    expect(first.stderr).toBe('')
    expect(result.sizeBytes).toBeLessThan(result.checkpoint.sizeBytes)
    expect(result.maxAbsDifference).toBeLessThanOrEqual(1e-5)

    const signature = JSON.parse(readFileSync(join(exportDir, '2', 'signature.json'), 'utf8')) as ExportSignature
    expect(signature.signature_def.serving_default.inputs.x_input.shape).toEqual([-1, 28, 28])
    expect(signature.signature_def.serving_default.outputs.y_output.shape).toEqual([-1, 10])
    expect(signature.provenance).toMatchObject({
      checkpoint: {name: 'ckpt-5', step: 5},
      test_images: 200,
      test_accuracy: result.testAccuracy,
      toolkit_version: '0.1.0',
      backend: 'wasm',
      training_config: {hidden: 16},
    })

    // Stock tf.loadLayersModel on the published files predicts what the checkpoint predicts.
    const model = await tf.loadLayersModel(exportFolderHandler(join(exportDir, '2')))
    const checkpoint = loadCheckpoint(checkpointDir)
    const images = tf.randomUniform([8, 28, 28], 0, 1, 'float32', 7) as tf.Tensor3D
    const stock = (model.predict(images) as tf.Tensor).dataSync()
    const ours = tf.tidy(() => classifierLogits(checkpoint.weights, images).dataSync())
    expect(Math.max(...stock.map((value, i) => Math.abs(value - ours[i])))).toBeLessThanOrEqual(1e-5)
    images.dispose()
    model.dispose()
    disposeClassifierWeights(checkpoint.weights)

    const again = await runCliAsync(exportArgs('--version', '2'))
    expect(again.status).toBe(1)
    expect(linesOf(again.stderr).at(-1)).toBe(`Error: version 2 already exists in ${exportDir} (use --force to replace it)`)

    const forced = await runCliAsync(exportArgs('--version', '2', '--force'))
    expect(forced.status, forced.stderr).toBe(0)
    expect(forced.stdout).toMatch(/^Replaced version 2 at /)
    expect(forced.stdout).toMatch(/Size: checkpoint [\d.]+ kB → export [\d.]+ kB/)
    expect(readdirSync(exportDir)).toEqual(['2'])
  })

  it('numbers the next export one after the highest version', async () => {
    const next = await runCliAsync(exportArgs('--json'))
    expect(next.status, next.stderr).toBe(0)
    expect(JSON.parse(next.stdout).version).toBe(3)
  })

  it('leaves no visible version when killed in the middle of writing, and the next export cleans up', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', PAUSED_EXPORT, checkpointDir, exportDir, '9'], {stdio: ['ignore', 'pipe', 'pipe']})
    await new Promise<void>((resolve, reject) => {
      let output = ''
      child.stdout.on('data', (chunk) => {
        output += chunk
        if (output.includes('paused mid-write')) resolve()
      })
      child.stderr.on('data', (chunk) => (output += chunk))
      child.on('exit', () => reject(new Error(`export exited before pausing: ${output}`)))
    })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    child.kill('SIGKILL')
    await exited
    const leftovers = readdirSync(exportDir).filter((name) => name.startsWith('.tmp-export-'))
    expect(leftovers).toHaveLength(1)
    expect(existsSync(join(exportDir, '9'))).toBe(false)
    expect(listExportVersions(exportDir).map((entry) => [entry.version, entry.valid])).toEqual([
      [2, true],
      [3, true],
    ])
    const listed = await runCliAsync(['export', '--list', '--export-dir', exportDir])
    expect(listed.stdout).toContain(`${leftovers[0]}: unfinished export (interrupted); ignored by servers, safe to delete`)

    const next = await runCliAsync(exportArgs('--version', '9'))
    expect(next.status, next.stderr).toBe(0)
    expect(readdirSync(exportDir).sort()).toEqual(['2', '3', '9'])
  })

  it('never shows a partial version when killed at arbitrary moments', async () => {
    const killedDir = join(temp.dir, 'killed')
    for (const delayMs of [2500, 3500]) {
      const child = startCli(['export', '--checkpoint-dir', checkpointDir, '--export-dir', killedDir, '--limit', TEST_LIMIT, '--version', '1', '--force'])
      const exited = new Promise((resolve) => child.on('exit', resolve))
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      child.kill('SIGKILL')
      await exited
      // Whether the kill came before, during or after publishing, every version folder is complete.
      if (existsSync(killedDir)) expect(listExportVersions(killedDir).filter((entry) => !entry.valid)).toEqual([])
    }
  })

  it('lists versions with accuracy, step, size, date and formats, and flags a corrupted folder', async () => {
    const weightsFile = join(exportDir, '3', 'weights.bin')
    const bytes = readFileSync(weightsFile)
    bytes[0] ^= 0x01
    writeFileSync(weightsFile, bytes)

    const listed = await runCliAsync(['export', '--list', '--export-dir', exportDir])
    expect(listed.status, listed.stderr).toBe(0)
    const lines = linesOf(listed.stdout)
    expect(lines[0]).toMatch(/version\s+accuracy\s+step\s+size\s+created\s+formats\s+status/)
    expect(lines[1]).toMatch(/^\s+2\s+0\.\d{4}\s+5\s+[\d.]+ kB\s+\d{4}-\d\d-\d\dT\S+\s+tfjs-layers\+onnx\s+ok$/)
    expect(lines[2]).toMatch(/^\s+3\s+—\s+—\s+[\d.]+ kB\s+—\s+—\s+INVALID: weights\.bin fails its recorded sha256/)
    expect(lines[3]).toMatch(/^\s+9\s.*\sok$/)

    const json = JSON.parse((await runCliAsync(['export', '--list', '--export-dir', exportDir, '--json'])).stdout)
    expect(json.versions.map((entry: {version: number; valid: boolean}) => [entry.version, entry.valid])).toEqual([
      [2, true],
      [3, false],
      [9, true],
    ])
  })

  it('--no-onnx writes the TF.js Layers format only; --triton-repo adds the version to a Triton model repository', async () => {
    const layersOnly = await runCliAsync(exportArgs('--version', '20', '--no-onnx'))
    expect(layersOnly.status, layersOnly.stderr).toBe(0)
    expect(readdirSync(join(exportDir, '20')).sort()).toEqual(['model.json', 'signature.json', 'weights.bin'])
    expect(layersOnly.stdout).toContain('No model.onnx (--no-onnx): this version runs on the TF.js engine only')
    const listed = linesOf((await runCliAsync(['export', '--list', '--export-dir', exportDir])).stdout)
    expect(listed.find((line) => /^\s+20\s/.test(line))).toMatch(/\stfjs-layers\s+ok$/)

    const tritonRepo = join(temp.dir, 'triton')
    const exported = await runCliAsync(exportArgs('--version', '21', '--triton-repo', tritonRepo, '--model-name', 'digits', '--triton-max-batch-size', '128'))
    expect(exported.status, exported.stderr).toBe(0)
    expect(readdirSync(join(tritonRepo, 'digits')).sort()).toEqual(['21', 'config.pbtxt'])
    expect(readFileSync(join(tritonRepo, 'digits', '21', 'model.onnx')).equals(readFileSync(join(exportDir, '21', 'model.onnx')))).toBe(true)
    const config = readFileSync(join(tritonRepo, 'digits', 'config.pbtxt'), 'utf8')
    expect(config).toContain('name: "digits"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 128\n')
    expect(exported.stdout).toContain(`Triton: ${join(tritonRepo, 'digits', '21', 'model.onnx')}`)

    const clash = await runCliAsync(exportArgs('--version', '22', '--triton-repo', tritonRepo, '--no-onnx'))
    expect(linesOf(clash.stderr).at(-1)).toBe('Error: --triton-repo needs model.onnx: drop --no-onnx')
    expect(existsSync(join(exportDir, '22'))).toBe(false)
  })

  it.each([
    [['--version', '0'], 'Error: --version must be a whole number ≥ 1, got 0'],
    [['--version', '-3'], 'Error: --version must be a whole number ≥ 1, got -3'],
    [['--version', '1.5'], 'Error: --version must be a whole number ≥ 1, got 1.5'],
    [['--version', 'abc'], 'Error: --version must be a whole number ≥ 1, got something that is not a number'],
  ])('rejects %j with a one-line error', async (args, message) => {
    const result = await runCliAsync(exportArgs(...args))
    expect(result.status).toBe(1)
    expect(linesOf(result.stderr).at(-1)).toBe(message)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('fails clearly without a checkpoint, or with an export directory it cannot write', async () => {
    const noCheckpoint = await runCliAsync(['export', '--checkpoint-dir', join(temp.dir, 'none'), '--export-dir', exportDir])
    expect(noCheckpoint.status).toBe(1)
    expect(linesOf(noCheckpoint.stderr).at(-1)).toBe(`Error: checkpoint directory ${join(temp.dir, 'none')} does not exist`)

    const aFile = join(temp.dir, 'a-file')
    writeFileSync(aFile, 'not a folder')
    const unwritable = await runCliAsync(['export', '--checkpoint-dir', checkpointDir, '--export-dir', join(aFile, 'exportmodel'), '--limit', TEST_LIMIT])
    expect(unwritable.status).toBe(1)
    expect(linesOf(unwritable.stderr).at(-1)).toMatch(new RegExp(`^Error: cannot create export directory ${join(aFile, 'exportmodel')}: ENOTDIR`))
  })
})

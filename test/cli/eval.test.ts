import {availableParallelism} from 'node:os'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {PNG} from 'pngjs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CELL_HEIGHT, CELL_WIDTH} from '../../src/lib/evaluation/errors-png.js'
import {EvaluationReport} from '../../src/lib/evaluation/report.js'
import {ExportSignature} from '../../src/lib/export/index.js'
import {linesOf, makeTempDir, runCliAsync} from '../helpers/cli.js'

const LIMIT = 300

describe('mnist-rnn eval', () => {
  const temp = makeTempDir('mnist-rnn-eval-cli-')
  const checkpointDir = join(temp.dir, 'checkpoints')
  const exportDir = join(temp.dir, 'exportmodel')
  let checkpointReport: EvaluationReport

  beforeAll(async () => {
    const trained = await runCliAsync(['train', '--limit', '512', '--steps', '5', '--hidden', '16', '--checkpoint-dir', checkpointDir])
    expect(trained.status, trained.stderr).toBe(0)
    const exported = await runCliAsync(['export', '--checkpoint-dir', checkpointDir, '--export-dir', exportDir, '--limit', '100'])
    expect(exported.status, exported.stderr).toBe(0)
    const evaluated = await runCliAsync(['eval', '--checkpoint-dir', checkpointDir, '--limit', String(LIMIT), '--batch-size', '128', '--json'])
    expect(evaluated.status, evaluated.stderr).toBe(0)
    checkpointReport = JSON.parse(evaluated.stdout)
  })
  afterAll(() => temp.cleanup())

  it('--json prints one object with every figure, the confusion matrix summing to the images scored', () => {
    const report = checkpointReport
    expect(report).toMatchObject({
      images: LIMIT,
      batchSize: 128,
      backend: 'wasm',
      engine: {name: 'tfjs', reason: 'auto: a checkpoint has no model.onnx'},
      model: {kind: 'checkpoint', name: 'ckpt-5', step: 5, hidden: 16},
    })
    expect(report.confusionMatrix).toHaveLength(10)
    expect(report.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(LIMIT)
    expect(report.accuracy).toBeCloseTo(report.correct / LIMIT, 12)
    expect(report.loss).toBeGreaterThan(0)
    expect(report.imagesPerSecond).toBeGreaterThan(0)
    expect(report.perClass.map((entry) => entry.support).reduce((a, b) => a + b, 0)).toBe(LIMIT)
    expect(report.confusedPairs.length).toBeGreaterThan(0)
  })

  it('scores the export of a checkpoint exactly as the checkpoint, on either engine', async () => {
    const runs = [
      {args: ['--model', exportDir], engine: {name: 'onnxruntime', reason: expect.stringMatching(/^auto: onnxruntime-node 1\.\d+\.\d+ loads and version 1 has model\.onnx$/), threads: availableParallelism()}},
      {args: ['--model', join(exportDir, '1'), '--engine', 'tfjs'], engine: {name: 'tfjs', reason: '--engine tfjs'}},
      {args: ['--model', join(exportDir, '1'), '--engine', 'onnxruntime', '--onnx-threads', '1'], engine: {name: 'onnxruntime', threads: 1}},
    ]
    for (const run of runs) {
      const result = await runCliAsync(['eval', ...run.args, '--limit', String(LIMIT), '--json'])
      expect(result.status, result.stderr).toBe(0)
      const report = JSON.parse(result.stdout) as EvaluationReport
      expect(report.engine).toMatchObject(run.engine)
      expect(report.model).toMatchObject({kind: 'export', name: '1', path: join(exportDir, '1'), step: 5})
      expect(report.accuracy).toBe(checkpointReport.accuracy)
      expect(report.confusionMatrix).toEqual(checkpointReport.confusionMatrix)
      expect(report.loss).toBeCloseTo(checkpointReport.loss, 5)
    }
  })

  it('prints a text report whose numbers agree with --json, and a PNG of misclassified digits', async () => {
    const pngPath = join(temp.dir, 'errors.png')
    const result = await runCliAsync(['eval', '--checkpoint-dir', checkpointDir, '--limit', String(LIMIT), '--batch-size', '128', '--errors-png', pngPath])
    expect(result.status, result.stderr).toBe(0)
    const lines = linesOf(result.stdout)
    const report = checkpointReport
    expect(lines).toContain(`Accuracy: ${report.accuracy.toFixed(4)} (${report.correct}/${LIMIT})`)
    expect(lines).toContain(`Mean cross-entropy loss: ${report.loss.toFixed(4)}`)
    expect(result.stdout).not.toMatch(/\u001b\[/) // no colour when stdout is not a terminal

    const matrixStart = lines.indexOf('Confusion matrix (rows: true digit, columns: predicted digit):') + 2
    const printedMatrix = lines.slice(matrixStart, matrixStart + 10).map((line) => line.trim().split(/\s+/).slice(1).map(Number))
    expect(printedMatrix).toEqual(report.confusionMatrix)

    const classStart = lines.indexOf('Per class:') + 2
    for (const entry of report.perClass) {
      const [digit, precision, recall, f1, support] = lines[classStart + entry.digit].trim().split(/\s+/)
      expect(Number(digit)).toBe(entry.digit)
      for (const [printed, value] of [[precision, entry.precision], [recall, entry.recall], [f1, entry.f1]] as const) {
        expect(printed).toBe(value === null ? '—' : value.toFixed(4))
      }
      expect(Number(support)).toBe(entry.support)
    }
    for (const pair of report.confusedPairs) {
      expect(lines).toContain(`  ${pair.trueLabel} → ${pair.predictedLabel}: ${pair.count} ${pair.count === 1 ? 'time' : 'times'}`)
    }

    const shown = Math.min(100, LIMIT - report.correct)
    const png = PNG.sync.read(readFileSync(pngPath))
    expect(png.width).toBe(Math.min(10, shown) * CELL_WIDTH)
    expect(png.height).toBe(Math.ceil(shown / 10) * CELL_HEIGHT)
    expect(lines.at(-1)).toBe(`Wrote ${shown} misclassified digits to ${pngPath} (${png.width}×${png.height} PNG)`)
  })

  it('fails with one line for a missing checkpoint or version, a corrupted or wrongly shaped export, and --limit 0', async () => {
    const expectError = async (args: string[], message: string | RegExp) => {
      const result = await runCliAsync(['eval', ...args])
      expect(result.status).toBe(1)
      const last = linesOf(result.stderr).at(-1)!
      if (typeof message === 'string') expect(last).toBe(message)
      else expect(last).toMatch(message)
      expect(result.stderr).not.toMatch(/\n\s+at /)
      expect(result.stdout).toBe('')
    }
    await expectError(['--checkpoint-dir', join(temp.dir, 'none')], `Error: checkpoint directory ${join(temp.dir, 'none')} does not exist`)
    await expectError(['--checkpoint-dir', checkpointDir, '--checkpoint', 'ckpt-999'], `Error: no checkpoint ${join(checkpointDir, 'ckpt-999')}`)
    await expectError(['--model', join(exportDir, '7')], `Error: ${join(exportDir, '7')}: no such version (versions here: 1)`)
    await expectError(['--checkpoint-dir', checkpointDir, '--limit', '0'], 'Error: --limit must be a whole number ≥ 1, got 0')

    const signaturePath = join(exportDir, '1', 'signature.json')
    const original = readFileSync(signaturePath, 'utf8')
    const signature = JSON.parse(original) as ExportSignature
    signature.signature_def.serving_default.inputs.x_input.shape = [-1, 784]
    writeFileSync(signaturePath, JSON.stringify(signature))
    await expectError(['--model', join(exportDir, '1')], `Error: ${join(exportDir, '1')}: input x_input has shape [-1, 784], expected [-1, 28, 28]`)
    writeFileSync(signaturePath, original)

    const weightsPath = join(exportDir, '1', 'weights.bin')
    const bytes = readFileSync(weightsPath)
    bytes[bytes.length - 1] ^= 0x80
    writeFileSync(weightsPath, bytes)
    await expectError(['--model', join(exportDir, '1')], /^Error: .*weights\.bin fails its recorded sha256/)
    await expectError(['--model', exportDir], `Error: ${exportDir}: no valid model version in this export directory`)
  })
})

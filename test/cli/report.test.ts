import {existsSync, mkdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import type {Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CliResult, makeTempDir, runCliAsync} from '../helpers/cli.js'
import {launchChromium, openRecordedPage} from '../helpers/browser.js'
import {writeTinyMnist} from '../helpers/mnist-files.js'

// 150 training images in batches of 30: 5 steps per epoch, 3 epochs.
const STEPS = 15
const EPOCHS = 3
const TEST_IMAGES = 50
const RUN = ['--hidden', '8', '--batch-size', '30', '--validation-size', '50', '--steps', String(STEPS), '--display-step', '100']
const LAPTOP = {width: 1280, height: 800}
const PHONE = {width: 390, height: 844}

const temp = makeTempDir('mnist-rnn-report-')
const dataDir = join(temp.dir, 'data')
const checkpointDir = join(temp.dir, 'ckpt')
const exportDir = join(temp.dir, 'export')
const logFile = join(temp.dir, 'train.jsonl')
const trainReport = join(temp.dir, 'train-report.html')
const report = join(temp.dir, 'report.html')
let browser: Browser | undefined
let reportRun: CliResult

function expectSuccess(result: CliResult): void {
  expect(result.status, result.stderr).toBe(0)
}

beforeAll(async () => {
  mkdirSync(dataDir)
  writeTinyMnist(dataDir)
  const data = ['--data-dir', dataDir]
  expectSuccess(await runCliAsync(['train', ...RUN, ...data, '--checkpoint-dir', checkpointDir, '--log-file', logFile, '--report', trainReport]))
  expectSuccess(await runCliAsync(['export', ...data, '--checkpoint-dir', checkpointDir, '--export-dir', exportDir]))
  reportRun = await runCliAsync(['report', ...data, '--log-file', logFile, '--model', join(exportDir, '1'), '--out', report])
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  temp.cleanup()
})

describe('mnist-rnn report', () => {
  it('writes one HTML file that refers to nothing outside itself', () => {
    expectSuccess(reportRun)
    expect(reportRun.stdout).toContain(`Wrote ${report} (`)
    expect(reportRun.stdout).toContain(`${STEPS} steps, ${EPOCHS} epochs; test accuracy`)
    const html = readFileSync(report, 'utf8')
    expect(html).toMatch(/^<!DOCTYPE html>/)
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'`)
    // Every src/href is a data: URL, and there is no <script> and no <link>.
    expect(html.match(/\b(?:src|href)="(?!data:)[^"]*"/g)).toBeNull()
    expect(html).not.toMatch(/<script|<link/i)
  })

  it('shows the exported version: its signature and the sha256 of each file, as signature.json records them', () => {
    const html = readFileSync(report, 'utf8')
    const signature = JSON.parse(readFileSync(join(exportDir, '1', 'signature.json'), 'utf8'))
    expect(html).toContain('Exported version 1')
    expect(html).toContain('serving_default')
    expect(html).toContain('x_input')
    expect(html).toContain('y_output')
    for (const [name, file] of Object.entries(signature.files as Record<string, {sha256: string}>)) {
      expect(html).toContain(name)
      expect(html).toContain(file.sha256)
    }
  })

  for (const [name, viewport] of [
    ['laptop', LAPTOP],
    ['phone', PHONE],
  ] as const) {
    it(`draws in Chromium at ${name} width (${viewport.width}px): charts with a point per step and per epoch, the heat map, the error grid, no errors, no requests`, async () => {
      const {page, problems} = await openRecordedPage(browser!, viewport)
      await page.goto(pathToFileURL(report).href)
      const drawn = await page.evaluate(() => {
        const pointsOf = (series: string) => {
          const line = document.querySelector<SVGPolylineElement>(`polyline[data-series="${series}"]`)
          return line ? line.points.numberOfItems : -1
        }
        const box = (selector: string) => {
          const element = document.querySelector(selector)
          const rect = element?.getBoundingClientRect()
          return rect ? {width: rect.width, height: rect.height} : undefined
        }
        const image = document.querySelector<HTMLImageElement>('.errors img')
        return {
          trainLoss: pointsOf('train-loss'),
          trainLossSmoothed: pointsOf('train-loss-smoothed'),
          validationLoss: pointsOf('validation-loss'),
          trainAccuracy: pointsOf('train-accuracy'),
          validationAccuracy: pointsOf('validation-accuracy'),
          learningRate: pointsOf('learning-rate'),
          examplesPerSecond: pointsOf('examples-per-second'),
          lossMarkers: document.querySelectorAll('#chart-loss circle.marker').length,
          lossChart: box('#chart-loss svg'),
          confusionCells: document.querySelectorAll('svg.confusion g.cell').length,
          confusion: box('svg.confusion'),
          perClassRows: document.querySelectorAll('table.per-class tbody tr').length,
          errorImage: image ? {complete: image.complete, naturalWidth: image.naturalWidth, shownWidth: image.getBoundingClientRect().width} : undefined,
          pageWidth: document.documentElement.scrollWidth,
        }
      })
      expect(problems.errors).toEqual([])
      expect(problems.requests).toEqual([])
      expect(drawn).toMatchObject({
        trainLoss: STEPS,
        trainLossSmoothed: STEPS,
        validationLoss: EPOCHS,
        trainAccuracy: STEPS,
        validationAccuracy: EPOCHS,
        learningRate: STEPS,
        examplesPerSecond: STEPS,
        lossMarkers: EPOCHS,
        confusionCells: 100,
        perClassRows: 10,
      })
      expect(drawn.lossChart!.width).toBeGreaterThan(viewport.width * 0.3)
      expect(drawn.lossChart!.height).toBeGreaterThan(100)
      expect(drawn.confusion!.width).toBeGreaterThan(200)
      // The grid decoded (a data URL PNG) and fits the screen.
      expect(drawn.errorImage).toMatchObject({complete: true})
      expect(drawn.errorImage!.naturalWidth).toBeGreaterThan(0)
      expect(drawn.errorImage!.shownWidth).toBeLessThanOrEqual(viewport.width)
      // Nothing wider than the screen: tables scroll inside their own boxes.
      expect(drawn.pageWidth).toBeLessThanOrEqual(viewport.width)
      const screenshot = join(temp.dir, `report-${name}.png`)
      await page.screenshot({path: screenshot, fullPage: true})
      expect(statSync(screenshot).size).toBeGreaterThan(10_000)
      await page.context().close()
    })
  }
})

describe('mnist-rnn report errors', () => {
  it('says in one line what is missing or wrong, without a stack trace', async () => {
    const nothing = await runCliAsync(['report', '--out', join(temp.dir, 'never.html')])
    expect(nothing.status).toBe(1)
    expect(nothing.stderr.trim().split('\n').at(-1)).toBe('Error: give --log-file, a model (--model, --checkpoint or --checkpoint-dir), or both')
    const missing = await runCliAsync(['report', '--log-file', join(temp.dir, 'missing.jsonl'), '--out', join(temp.dir, 'never.html')])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/Error: cannot read the training log .*missing\.jsonl: ENOENT/)
    expect(existsSync(join(temp.dir, 'never.html'))).toBe(false)
  })
})

describe('mnist-rnn train --report', () => {
  it('writes the report when training ends, with the curves of the run and the final weights scored on the test set', async () => {
    expect(existsSync(trainReport)).toBe(true)
    const {page, problems} = await openRecordedPage(browser!, LAPTOP)
    await page.goto(pathToFileURL(trainReport).href)
    const drawn = await page.evaluate(() => ({
      trainLoss: document.querySelector<SVGPolylineElement>('polyline[data-series="train-loss"]')?.points.numberOfItems,
      validationAccuracy: document.querySelector<SVGPolylineElement>('polyline[data-series="validation-accuracy"]')?.points.numberOfItems,
      evaluation: document.querySelector('#evaluation .meta')?.textContent ?? '',
    }))
    expect(problems).toEqual({errors: [], requests: []})
    expect(drawn.trainLoss).toBe(STEPS)
    expect(drawn.validationAccuracy).toBe(EPOCHS)
    expect(drawn.evaluation).toContain(`checkpoint ckpt-${STEPS}`)
    expect(drawn.evaluation).toContain(`the ${TEST_IMAGES} test images`)
    await page.context().close()
  })
})

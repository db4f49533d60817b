import * as tf from '@tensorflow/tfjs'
import {ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {cpSync, mkdirSync, renameSync} from 'node:fs'
import {join} from 'node:path'
import {Browser, CDPSession, Page} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it, onTestFailed} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {loadMnistSplit} from '../../src/lib/data/mnist.js'
import {loadVerifiedWeights, verifyExportFolder} from '../../src/lib/export/read.js'
import {classifierLogits} from '../../src/lib/model/classifier.js'
import {disposeClassifierWeights} from '../../src/lib/model/weights.js'
import {launchChromium} from '../helpers/browser.js'
import {makeTempDir, runCliAsync, startCli, waitForLine} from '../helpers/cli.js'

/**
 * The drawing page in headless Chromium against a real `mnist-rnn serve` (the built CLI), on a
 * small model trained here for a few hundred steps: enough to read a clear "1" and "0".
 */

const PAD_SIDE = 280
const SERVER_AGREEMENT = 1e-5
const BROWSER_AGREEMENT = 1e-4
const PHONE = {width: 375, height: 740}
const DESKTOP = {width: 1100, height: 760}
const TRAIN_ARGS = ['--hidden', '32', '--limit', '8000', '--validation-size', '1000', '--steps', '300', '--batch-size', '64', '--learning-rate', '0.005', '--seed', '1']

/** Strokes in the pad's 280×280 pixels: a slightly slanted bar, and an upright ellipse drawn from the top. */
const ONE: [number, number][] = [[150, 40], [145, 90], [140, 140], [136, 190], [132, 240]]
const ZERO: [number, number][] = Array.from({length: 41}, (_, k) => {
  const angle = (k / 40) * 2 * Math.PI
  return [140 + 60 * Math.sin(angle), 140 - 95 * Math.cos(angle)]
})

const temp = makeTempDir('mnist-rnn-ui-browser-')
const modelDir = join(temp.dir, 'models')
const screenshots = join(temp.dir, 'screenshots')
let keepTemp = false
let server: ChildProcess
let url: string
let banner: () => string
let browser: Browser
let page: Page
let input: CDPSession
/** Console errors and warnings, uncaught exceptions, failed requests, requests that left the server. */
const problems: string[] = []
const requested: string[] = []

beforeAll(async () => {
  const checkpoints = join(temp.dir, 'checkpoints')
  const train = await runCliAsync(['train', ...TRAIN_ARGS, '--checkpoint-dir', checkpoints, '--backend', 'wasm'])
  expect(train.status, train.stderr).toBe(0)
  const exported = await runCliAsync(['export', '--checkpoint-dir', checkpoints, '--export-dir', modelDir, '--limit', '500', '--backend', 'wasm'])
  expect(exported.status, exported.stderr).toBe(0)

  server = startCli(['serve', '--port', '0', '--model-dir', modelDir, '--workers', '1', '--poll-seconds', '0.5', '--engine', 'tfjs', '--backend', 'wasm'])
  const listening = waitForLine(server, /Listening on (http:\/\/127\.0\.0\.1:\d+)/)
  url = (await listening.line)[1]
  banner = listening.output

  mkdirSync(screenshots)
  browser = await launchChromium()
  page = await browser.newPage({viewport: DESKTOP})
  input = await page.context().newCDPSession(page)
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`))
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`))
  page.on('request', (request) => {
    requested.push(request.url())
    if (!request.url().startsWith(`${url}/`)) problems.push(`request outside the server: ${request.url()}`)
  })
})

afterAll(async () => {
  await browser?.close()
  if (server && server.exitCode === null) {
    server.kill('SIGTERM')
    await once(server, 'exit')
  }
  if (keepTemp) console.log(`drawing page test: screenshots and model kept in ${temp.dir}`)
  else temp.cleanup()
})

function keepScreenshotsIfFailed(): void {
  onTestFailed(() => {
    keepTemp = true
  })
}

/** Runs `action` and waits until the page shows a new prediction. */
async function nextPrediction(action: () => Promise<unknown>): Promise<void> {
  const shown = Number((await page.locator('.result').getAttribute('data-shown')) ?? 0)
  await action()
  await page.waitForFunction((before) => Number(document.querySelector('.result')?.getAttribute('data-shown') ?? 0) > before, shown)
}

type Pointer = 'mouse' | 'pen' | 'touch'

/**
 * One stroke through points given in the pad's own 280×280 pixels, drawn with a mouse, a pen or
 * a finger (pen and touch through Chromium's input domain, as a tablet's digitizer sends them).
 */
async function stroke(points: [number, number][], pointer: Pointer = 'mouse'): Promise<void> {
  const box = (await page.locator('#pad').boundingBox())!
  const at = ([x, y]: [number, number]) => ({x: box.x + (x * box.width) / PAD_SIDE, y: box.y + (y * box.height) / PAD_SIDE})
  const last = points[points.length - 1]
  if (pointer === 'mouse') {
    await page.mouse.move(at(points[0]).x, at(points[0]).y)
    await page.mouse.down()
    for (const point of points.slice(1)) await page.mouse.move(at(point).x, at(point).y, {steps: 4})
    await page.mouse.up()
  } else if (pointer === 'pen') {
    const pen = {button: 'left', pointerType: 'pen', clickCount: 1} as const
    await input.send('Input.dispatchMouseEvent', {type: 'mousePressed', ...at(points[0]), ...pen, buttons: 1})
    for (const point of points.slice(1)) await input.send('Input.dispatchMouseEvent', {type: 'mouseMoved', ...at(point), ...pen, buttons: 1})
    await input.send('Input.dispatchMouseEvent', {type: 'mouseReleased', ...at(last), ...pen, buttons: 0})
  } else {
    await input.send('Input.dispatchTouchEvent', {type: 'touchStart', touchPoints: [at(points[0])]})
    for (const point of points.slice(1)) await input.send('Input.dispatchTouchEvent', {type: 'touchMove', touchPoints: [at(point)]})
    await input.send('Input.dispatchTouchEvent', {type: 'touchEnd', touchPoints: []})
  }
}

/** The pointer types the pad has seen start a stroke. */
async function pointerTypesSeen(): Promise<string[]> {
  return page.evaluate(() => (window as unknown as {pointerTypes: string[]}).pointerTypes)
}

async function shownProbabilities(): Promise<number[]> {
  return page.$$eval('#bars li', (items) => items.map((item) => Number((item as HTMLElement).dataset.probability)))
}

/** The 28×28 input the page shows, as grey levels in [0, 1]. */
async function shownInput(): Promise<number[]> {
  return page.$eval('#input', (canvas) => {
    const {data} = (canvas as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28)
    return Array.from({length: 784}, (_, i) => data[i * 4] / 255)
  })
}

function inkRows(image: number[]): number {
  const rows = new Set<number>()
  image.forEach((value, i) => value > 0 && rows.add(Math.floor(i / 28)))
  return Math.max(...rows) - Math.min(...rows) + 1
}

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits)
  const exps = logits.map((logit) => Math.exp(logit - max))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((value) => value / sum)
}

/** What the library computes for one test image with the weights of an exported version. */
async function libraryProbabilities(version: number, image: Float32Array): Promise<number[]> {
  await selectBackend('wasm')
  const weights = loadVerifiedWeights(verifyExportFolder(join(modelDir, String(version))))
  try {
    return softmax(Array.from(tf.tidy(() => classifierLogits(weights, tf.tensor3d(image, [1, 28, 28])).dataSync())))
  } finally {
    disposeClassifierWeights(weights)
  }
}

function maxDifference(a: number[], b: number[]): number {
  return Math.max(...a.map((value, i) => Math.abs(value - b[i])))
}

describe('the drawing page in a real browser', () => {
  it('opens at the URL the start-up banner prints and says which model, version and engine answer', async () => {
    keepScreenshotsIfFailed()
    expect(banner()).toContain(`Drawing page: open ${url}/ in a browser`)
    await page.goto(`${url}/`)
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as {pointerTypes: string[]}).pointerTypes = [])
      document.getElementById('pad')!.addEventListener('pointerdown', (event) => seen.push(event.pointerType))
    })
    await expect.poll(() => page.locator('#served').textContent()).toBe('Model mnist, version 1, engine TensorFlow.js, wasm backend')
  })

  it('reads a "1" drawn with the mouse, and shows the 28×28 input the model sees', async () => {
    keepScreenshotsIfFailed()
    await nextPrediction(() => stroke(ONE))
    expect(await page.locator('#top-digit').textContent()).toBe('1')
    expect(await page.locator('#input').getAttribute('data-source')).toBe('drawing')
    // Scaled as MNIST was made: the longer side of the ink is 20 of the 28 rows.
    expect(inkRows(await shownInput())).toBe(20)
    const probabilities = await shownProbabilities()
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6)
    expect(await page.locator('#answered-by').textContent()).toBe('Answered by mnist version 1 on the server (TensorFlow.js, wasm backend).')
    await page.screenshot({path: join(screenshots, 'one.png')})
  })

  it('clears, then reads a "0" drawn with a pen', async () => {
    keepScreenshotsIfFailed()
    await page.getByRole('button', {name: 'Clear'}).click()
    expect(await page.locator('#top-digit').textContent()).toBe('–')
    expect(Math.max(...(await shownInput()))).toBe(0)
    await nextPrediction(() => stroke(ZERO, 'pen'))
    expect(await page.locator('#top-digit').textContent()).toBe('0')
    expect(await pointerTypesSeen()).toEqual(['mouse', 'pen'])
    await page.screenshot({path: join(screenshots, 'zero.png')})
  })

  let testImage: {index: number; image: Float32Array; label: number}
  let serverProbabilities: number[]

  it("loads a random MNIST test image with its label and shows the library's prediction for it", async () => {
    keepScreenshotsIfFailed()
    await nextPrediction(() => page.getByRole('button', {name: 'Try a test image'}).click())
    const source = (await page.locator('#input').getAttribute('data-source'))!
    expect(source).toMatch(/^test:\d+$/)
    const index = Number(source.slice('test:'.length))
    const test = loadMnistSplit('test', undefined, index + 1)
    testImage = {index, image: test.images.slice(index * 784, (index + 1) * 784), label: test.labels[index]}
    expect(await page.locator('#input-source').textContent()).toContain(`MNIST test image #${index}, true label ${testImage.label}`)
    // The input is the test image itself, not a re-processed drawing of it.
    expect(maxDifference(await shownInput(), Array.from(testImage.image, (value) => Math.round(value * 255) / 255))).toBe(0)

    serverProbabilities = await shownProbabilities()
    const expected = await libraryProbabilities(1, testImage.image)
    expect(maxDifference(serverProbabilities, expected)).toBeLessThan(SERVER_AGREEMENT)
    const best = expected.indexOf(Math.max(...expected))
    expect(await page.locator('#top-digit').textContent()).toBe(String(best))
    expect(await page.locator('#top-text').textContent()).toContain(`True label: ${testImage.label}`)
  })

  it("runs the served version's exported files with TensorFlow.js in the browser, agreeing with the server within 1e-4", async () => {
    keepScreenshotsIfFailed()
    await nextPrediction(() => page.getByRole('radio', {name: /In this browser/}).check())
    expect(await page.locator('.result').getAttribute('data-mode')).toBe('browser')
    expect(await page.locator('#answered-by').textContent()).toBe('Answered by mnist version 1 in this browser (TensorFlow.js, cpu backend).')
    expect(maxDifference(await shownProbabilities(), serverProbabilities)).toBeLessThan(BROWSER_AGREEMENT)
    expect(requested).toContain(`${url}/ui/model/1/model.json`)
    expect(requested).toContain(`${url}/ui/model/1/weights.bin`)

    // A drawing gets the same answer in both modes too.
    await page.getByRole('button', {name: 'Clear'}).click()
    await nextPrediction(() => stroke(ONE))
    const inBrowser = await shownProbabilities()
    await nextPrediction(() => page.getByRole('radio', {name: /On the server/}).check())
    expect(maxDifference(await shownProbabilities(), inBrowser)).toBeLessThan(BROWSER_AGREEMENT)
    await nextPrediction(() => page.getByRole('radio', {name: /In this browser/}).check())
    await page.screenshot({path: join(screenshots, 'in-browser.png')})
  })

  it('can be used from the keyboard alone and names its controls for screen readers', async () => {
    keepScreenshotsIfFailed()
    await expect.poll(() => page.getByRole('img', {name: /Drawing area: draw one digit/}).count()).toBe(1)
    await expect.poll(() => page.getByRole('img', {name: 'The 28 by 28 input image'}).count()).toBe(1)
    await expect.poll(() => page.getByRole('group', {name: 'Where the model runs'}).count()).toBe(1)
    await expect.poll(() => page.getByRole('list', {name: 'Probability of each digit'}).count()).toBe(1)

    // Start from the top of the page, as a keyboard user arriving would.
    await page.locator('h1').click()
    const reached: string[] = []
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab')
      reached.push(
        await page.evaluate(() => {
          const focused = document.activeElement as HTMLInputElement
          return focused.id || `${focused.name}:${focused.value}`
        }),
      )
    }
    // The two modes are one radio group: one tab stop, on the chosen mode.
    expect(reached).toEqual(['clear', 'test-image', 'mode:browser'])
    await page.keyboard.press('Shift+Tab')
    await nextPrediction(() => page.keyboard.press('Enter'))
    expect(await page.locator('#input').getAttribute('data-source')).toMatch(/^test:\d+$/)
    await page.keyboard.press('Tab')
    await nextPrediction(() => page.keyboard.press('ArrowUp'))
    expect(await page.locator('.result').getAttribute('data-mode')).toBe('server')
  })

  it('is readable at phone width (one column, nothing wider than the screen) and takes a finger', async () => {
    keepScreenshotsIfFailed()
    await page.setViewportSize(PHONE)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
    const pad = (await page.locator('#pad').boundingBox())!
    expect(pad.x).toBeGreaterThanOrEqual(0)
    expect(pad.x + pad.width).toBeLessThanOrEqual(PHONE.width)
    // The answer comes right under the pad.
    const result = (await page.locator('.result').boundingBox())!
    const seen = (await page.locator('.seen').boundingBox())!
    expect(result.y).toBeGreaterThan(pad.y + pad.height)
    expect(result.y).toBeLessThan(seen.y)
    await nextPrediction(() => stroke(ONE, 'touch'))
    expect(await page.locator('#top-digit').textContent()).toBe('1')
    expect((await pointerTypesSeen()).at(-1)).toBe('touch')
    // The finger drew; it did not scroll the page.
    expect(await page.evaluate(() => window.scrollY)).toBe(0)
    await page.screenshot({path: join(screenshots, 'phone.png'), fullPage: true})
    await page.setViewportSize(DESKTOP)
  })

  it('shows a new version without a reload, and predicts with it', async () => {
    keepScreenshotsIfFailed()
    // Publish version 2 (the same files) the way export does: complete elsewhere, renamed in.
    const staging = join(modelDir, '.tmp-export-ui-test')
    cpSync(join(modelDir, '1'), staging, {recursive: true})
    renameSync(staging, join(modelDir, '2'))
    await expect.poll(() => page.locator('#served').textContent(), {timeout: 30_000}).toBe('Model mnist, version 2, engine TensorFlow.js, wasm backend')
    await expect.poll(() => page.locator('.result').getAttribute('data-version'), {timeout: 30_000}).toBe('2')
    await nextPrediction(() => page.getByRole('radio', {name: /In this browser/}).check())
    expect(await page.locator('#answered-by').textContent()).toBe('Answered by mnist version 2 in this browser (TensorFlow.js, cpu backend).')
    expect(requested).toContain(`${url}/ui/model/2/weights.bin`)
    await page.screenshot({path: join(screenshots, 'desktop.png')})
  })

  it('logged no console error or warning, and loaded nothing from anywhere but the server', () => {
    keepScreenshotsIfFailed()
    expect(problems).toEqual([])
    expect(requested.some((address) => address.endsWith('/ui/vendor/tf.es2017.min.js'))).toBe(true)
  })

  it('says so, visibly, when the server is unreachable', async () => {
    keepScreenshotsIfFailed()
    server.kill('SIGTERM')
    await once(server, 'exit')
    const alert = page.getByRole('alert')
    await expect.poll(() => alert.isVisible(), {timeout: 30_000}).toBe(true)
    expect(await alert.textContent()).toMatch(/^Cannot reach the server \(.+\)\. Is mnist-rnn serve still running\?$/)
    expect(await page.locator('#served').textContent()).toBe('The server is unreachable.')
    await page.screenshot({path: join(screenshots, 'unreachable.png')})
  })
})

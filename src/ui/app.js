// @ts-check
/**
 * The drawing page: a pad drawn on with pointer events (mouse, touch, pen), the 28×28 input the
 * model sees, and the prediction of the server (TensorFlow Serving REST) or of this browser
 * (TensorFlow.js on the exported files) after every stroke.
 */

import {BrowserModel} from './browser-model.js'
import {MNIST_SIDE, mnistInputFromInk} from './preprocess.js'
import {ServerRefused, ServerUnreachable, fetchServedVersion, fetchServerInfo, fetchTestImage, predictOnServer} from './server-api.js'

/** How often the page asks which version is served, so a new one shows without a reload. */
const STATUS_POLL_MS = 2000
/** Pen width on the 280-px pad: a digit drawn ~200 px tall gets MNIST's stroke-to-height ratio. */
const STROKE_WIDTH = 22
const NUM_CLASSES = 10
const HTTP_NOT_FOUND = 404
const PERCENT = 100

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function element(id, type) {
  const found = document.getElementById(id)
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`)
  return found
}

const pad = element('pad', HTMLCanvasElement)
const inputView = element('input', HTMLCanvasElement)
const inputSource = element('input-source', HTMLElement)
const servedText = element('served', HTMLElement)
const errorText = element('error', HTMLElement)
const topDigit = element('top-digit', HTMLOutputElement)
const topText = element('top-text', HTMLElement)
const bars = element('bars', HTMLOListElement)
const answeredBy = element('answered-by', HTMLElement)
const resultPanel = /** @type {HTMLElement} */ (bars.closest('section'))

const padContext = /** @type {CanvasRenderingContext2D} */ (pad.getContext('2d', {willReadFrequently: true}))
// Read back as well as drawn: by the tests, and by anyone checking what the model was given.
const inputContext = /** @type {CanvasRenderingContext2D} */ (inputView.getContext('2d', {willReadFrequently: true}))

/**
 * @typedef {{kind: 'drawing'} | {kind: 'test', index: number, label: number}} InputSource
 * @typedef {'server' | 'browser'} Mode
 */

const state = {
  /** @type {{model: string, engine: string} | undefined} */
  server: undefined,
  /** @type {number | undefined} the version unversioned requests get */
  version: undefined,
  /** @type {Mode} */
  mode: 'server',
  /** @type {Float32Array | undefined} the model's input, 784 grey levels */
  image: undefined,
  /** @type {InputSource | undefined} */
  source: undefined,
  /** @type {{version: number, model: Promise<BrowserModel>} | undefined} */
  browserModel: undefined,
  /** Bumped by every prediction, so that only the latest one is shown. */
  prediction: 0,
  /** Predictions shown so far (a hook for tests and for screen-reader announcements). */
  shown: 0,
}

// ---- errors ---------------------------------------------------------------------------------

/** @param {unknown} error */
function describeError(error) {
  if (error instanceof ServerUnreachable) return `Cannot reach the server (${error.message}). Is mnist-rnn serve still running?`
  if (error instanceof ServerRefused) return `The server answered ${error.status}: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}

/**
 * @param {unknown} error
 * @param {'status' | 'prediction'} cause  which success clears it: the next status poll's, or the next prediction's
 */
function showError(error, cause) {
  errorText.textContent = describeError(error)
  errorText.dataset.cause = cause
  errorText.hidden = false
}

function clearError() {
  errorText.hidden = true
  errorText.textContent = ''
  delete errorText.dataset.cause
}

// ---- which model answers --------------------------------------------------------------------

function renderServed() {
  if (!state.server) return
  const version = state.version === undefined ? 'no version available yet' : `version ${state.version}`
  servedText.textContent = `Model ${state.server.model}, ${version}, engine ${state.server.engine}`
  servedText.dataset.version = state.version === undefined ? '' : String(state.version)
}

/** Asks the server which version it serves; predicts again when that changed. */
async function refreshServed() {
  const before = state.version
  state.server ??= await fetchServerInfo()
  state.version = await fetchServedVersion(state.server.model)
  if (state.version !== before && before !== undefined) state.server = await fetchServerInfo()
  renderServed()
  if (state.version !== before && before !== undefined && state.image) void predict()
}

async function pollServed() {
  try {
    await refreshServed()
    if (errorText.dataset.cause === 'status') clearError()
  } catch (error) {
    showError(error, 'status')
    if (error instanceof ServerUnreachable) servedText.textContent = 'The server is unreachable.'
  }
  setTimeout(pollServed, STATUS_POLL_MS)
}

// ---- predictions ----------------------------------------------------------------------------

/**
 * Probabilities from logits, the largest logit subtracted first.
 * @param {number[]} logits
 */
function softmax(logits) {
  const max = Math.max(...logits)
  const exps = logits.map((logit) => Math.exp(logit - max))
  const sum = exps.reduce((total, value) => total + value, 0)
  return exps.map((value) => value / sum)
}

/**
 * The served version's model in this page, loaded once per version (the previous one disposed).
 * @param {number} version
 * @returns {Promise<BrowserModel>}
 */
function browserModelFor(version) {
  const previous = state.browserModel
  if (previous?.version === version) return previous.model
  const model = BrowserModel.load(version)
  state.browserModel = {version, model}
  model.catch(() => {
    if (state.browserModel?.model === model) state.browserModel = undefined
  })
  previous?.model.then(
    (old) => old.dispose(),
    () => {},
  )
  return model
}

/**
 * The logits for the current image in the current mode, and where they were computed.
 * @param {Float32Array} image
 * @param {boolean} [retried]
 * @returns {Promise<{logits: number[], version: number, where: string}>}
 */
async function logitsFor(image, retried = false) {
  if (!state.server || state.version === undefined) await refreshServed()
  const server = /** @type {{model: string, engine: string}} */ (state.server)
  const version = state.version
  if (version === undefined) throw new Error(`no version of ${server.model} is available on the server yet`)
  if (state.mode === 'browser') {
    const model = await browserModelFor(version)
    return {logits: model.predict(image), version, where: `in this browser (TensorFlow.js, ${model.backend} backend)`}
  }
  try {
    return {logits: await predictOnServer(server.model, version, image), version, where: `on the server (${server.engine})`}
  } catch (error) {
    // The version was replaced between the last status poll and this request: ask again, once.
    if (!retried && error instanceof ServerRefused && error.status === HTTP_NOT_FOUND) {
      await refreshServed()
      return logitsFor(image, true)
    }
    throw error
  }
}

async function predict() {
  const image = state.image
  const ticket = ++state.prediction
  if (!image) return renderNoPrediction()
  resultPanel.setAttribute('aria-busy', 'true')
  try {
    const answer = await logitsFor(image)
    if (ticket !== state.prediction) return
    renderPrediction(softmax(answer.logits), answer.version, answer.where)
    clearError()
  } catch (error) {
    if (ticket === state.prediction) showError(error, 'prediction')
  } finally {
    if (ticket === state.prediction) resultPanel.removeAttribute('aria-busy')
  }
}

// ---- the prediction panel -------------------------------------------------------------------

/** @type {{item: HTMLLIElement, bar: HTMLElement, value: HTMLElement}[]} */
const barRows = []

function buildBars() {
  for (let digit = 0; digit < NUM_CLASSES; digit++) {
    const item = document.createElement('li')
    item.dataset.digit = String(digit)
    const label = document.createElement('span')
    label.className = 'digit'
    label.textContent = String(digit)
    const track = document.createElement('span')
    track.className = 'track'
    track.setAttribute('aria-hidden', 'true')
    const bar = document.createElement('span')
    bar.className = 'bar'
    track.append(bar)
    const value = document.createElement('span')
    value.className = 'value'
    item.append(label, track, value)
    bars.append(item)
    barRows.push({item, bar, value})
  }
  renderNoPrediction()
}

/** @param {number} probability */
function percentText(probability) {
  return `${(probability * PERCENT).toFixed(1)} %`
}

function renderNoPrediction() {
  for (const {item, bar, value} of barRows) {
    item.classList.remove('best')
    delete item.dataset.probability
    bar.style.width = '0%'
    value.textContent = '–'
  }
  topDigit.textContent = '–'
  topText.textContent = 'Draw a digit to see what the model reads.'
  answeredBy.textContent = ''
  delete resultPanel.dataset.mode
  delete resultPanel.dataset.version
  delete resultPanel.dataset.digit
}

/**
 * @param {number[]} probabilities
 * @param {number} version
 * @param {string} where
 */
function renderPrediction(probabilities, version, where) {
  const best = probabilities.indexOf(Math.max(...probabilities))
  barRows.forEach(({item, bar, value}, digit) => {
    item.classList.toggle('best', digit === best)
    item.dataset.probability = String(probabilities[digit])
    bar.style.width = `${probabilities[digit] * PERCENT}%`
    value.textContent = percentText(probabilities[digit])
  })
  topDigit.textContent = String(best)
  const source = state.source
  const truth = source?.kind === 'test' ? ` True label: ${source.label} (${source.label === best ? 'right' : 'wrong'}).` : ''
  topText.textContent = `The model reads ${best} (${percentText(probabilities[best])}).${truth}`
  answeredBy.textContent = `Answered by ${state.server?.model} version ${version} ${where}.`
  resultPanel.dataset.mode = state.mode
  resultPanel.dataset.version = String(version)
  resultPanel.dataset.digit = String(best)
  resultPanel.dataset.shown = String(++state.shown)
}

// ---- the 28×28 view -------------------------------------------------------------------------

/**
 * Paints 784 grey levels, white ink on black as in MNIST, on a 28×28 canvas context.
 * @param {CanvasRenderingContext2D} context
 * @param {Float32Array | undefined} image
 * @param {'light-on-dark' | 'ink-alpha'} style
 */
function paintImage(context, image, style) {
  const pixels = context.createImageData(MNIST_SIDE, MNIST_SIDE)
  for (let i = 0; i < MNIST_SIDE * MNIST_SIDE; i++) {
    const level = Math.round((image?.[i] ?? 0) * 255)
    const at = i * 4
    if (style === 'light-on-dark') {
      pixels.data.set([level, level, level, 255], at)
    } else {
      pixels.data.set([0, 0, 0, level], at)
    }
  }
  context.putImageData(pixels, 0, 0)
}

function renderInput() {
  paintImage(inputContext, state.image, 'light-on-dark')
  const source = state.source
  if (!source || !state.image) {
    inputSource.textContent = 'Nothing drawn yet. The drawing is cropped to its ink, scaled to 20 px and centred by its centre of mass in 28×28, as MNIST was made.'
  } else if (source.kind === 'test') {
    inputSource.textContent = `MNIST test image #${source.index}, true label ${source.label}, exactly as in the test set.`
  } else {
    inputSource.textContent = 'Your drawing, cropped to its ink, scaled to 20 px and centred by its centre of mass in 28×28, as MNIST was made.'
  }
  inputView.dataset.source = source?.kind === 'test' ? `test:${source.index}` : (source?.kind ?? '')
}

// ---- drawing --------------------------------------------------------------------------------

function clearPad() {
  padContext.clearRect(0, 0, pad.width, pad.height)
}

function setPen() {
  padContext.lineWidth = STROKE_WIDTH
  padContext.lineCap = 'round'
  padContext.lineJoin = 'round'
  padContext.strokeStyle = '#000'
  padContext.fillStyle = '#000'
}

/** @param {PointerEvent} event */
function padPoint(event) {
  const box = pad.getBoundingClientRect()
  return {x: ((event.clientX - box.left) * pad.width) / box.width, y: ((event.clientY - box.top) * pad.height) / box.height}
}

/** The drawing's ink (the pad's alpha channel) made into the model's input. */
function inputFromPad() {
  const {data} = padContext.getImageData(0, 0, pad.width, pad.height)
  const ink = new Uint8Array(pad.width * pad.height)
  for (let i = 0; i < ink.length; i++) ink[i] = data[i * 4 + 3]
  return mnistInputFromInk(ink, pad.width, pad.height) ?? undefined
}

/** @type {{pointerId: number, x: number, y: number} | undefined} */
let stroke

/** @param {PointerEvent} event */
function startStroke(event) {
  if (stroke || (event.pointerType === 'mouse' && event.button !== 0)) return
  event.preventDefault()
  if (state.source?.kind === 'test') clearPad()
  pad.setPointerCapture(event.pointerId)
  const point = padPoint(event)
  stroke = {pointerId: event.pointerId, ...point}
  padContext.beginPath()
  padContext.arc(point.x, point.y, STROKE_WIDTH / 2, 0, 2 * Math.PI)
  padContext.fill()
}

/** @param {PointerEvent} event */
function continueStroke(event) {
  if (!stroke || event.pointerId !== stroke.pointerId) return
  const coalesced = event.getCoalescedEvents?.() ?? []
  for (const each of coalesced.length > 0 ? coalesced : [event]) {
    const point = padPoint(each)
    padContext.beginPath()
    padContext.moveTo(stroke.x, stroke.y)
    padContext.lineTo(point.x, point.y)
    padContext.stroke()
    stroke.x = point.x
    stroke.y = point.y
  }
}

/** @param {PointerEvent} event */
function endStroke(event) {
  if (!stroke || event.pointerId !== stroke.pointerId) return
  stroke = undefined
  state.image = inputFromPad()
  state.source = state.image ? {kind: 'drawing'} : undefined
  renderInput()
  void predict()
}

function clearAll() {
  clearPad()
  state.image = undefined
  state.source = undefined
  state.prediction++
  renderInput()
  renderNoPrediction()
}

/**
 * Shows a test image on the pad, each of its pixels a 10×10 block of ink.
 * @param {Float32Array} image
 */
function paintTestImageOnPad(image) {
  const small = document.createElement('canvas')
  small.width = MNIST_SIDE
  small.height = MNIST_SIDE
  paintImage(/** @type {CanvasRenderingContext2D} */ (small.getContext('2d')), image, 'ink-alpha')
  clearPad()
  padContext.imageSmoothingEnabled = false
  padContext.drawImage(small, 0, 0, pad.width, pad.height)
}

async function showTestImage() {
  try {
    const test = await fetchTestImage()
    state.image = test.pixels
    state.source = {kind: 'test', index: test.index, label: test.label}
    paintTestImageOnPad(test.pixels)
    renderInput()
    await predict()
  } catch (error) {
    showError(error, 'prediction')
  }
}

/**
 * @param {HTMLInputElement} radio
 * @returns {Mode}
 */
function modeOf(radio) {
  return radio.value === 'browser' ? 'browser' : 'server'
}

// ---- start ----------------------------------------------------------------------------------

setPen()
buildBars()
renderInput()
pad.addEventListener('pointerdown', startStroke)
pad.addEventListener('pointermove', continueStroke)
pad.addEventListener('pointerup', endStroke)
pad.addEventListener('pointercancel', endStroke)
element('clear', HTMLButtonElement).addEventListener('click', clearAll)
element('test-image', HTMLButtonElement).addEventListener('click', () => void showTestImage())
for (const radio of document.querySelectorAll('input[name="mode"]')) {
  if (!(radio instanceof HTMLInputElement)) continue
  // A browser may restore the choice made before a reload.
  if (radio.checked) state.mode = modeOf(radio)
  radio.addEventListener('change', () => {
    if (!radio.checked) return
    state.mode = modeOf(radio)
    void predict()
  })
}
void pollServed()

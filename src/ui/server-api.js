// @ts-check
/**
 * The page's calls to the server it was loaded from (same origin, so the Content-Security-Policy's
 * `connect-src 'self'` allows them): TensorFlow Serving's status and :predict routes, and the two
 * small routes the page adds (server facts, a random MNIST test image).
 */

import {MNIST_SIDE} from './preprocess.js'

/** No answer at all: the server is down, restarting, or the network is gone. */
export class ServerUnreachable extends Error {}

/** An answer with an error status; `message` is the server's one-line `{"error": …}`. */
export class ServerRefused extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

/**
 * @param {string} url
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
async function fetchJson(url, init = {}) {
  let response
  try {
    response = await fetch(url, {cache: 'no-store', ...init})
  } catch (error) {
    throw new ServerUnreachable(error instanceof Error ? error.message : String(error))
  }
  let body
  try {
    body = await response.json()
  } catch {
    throw new ServerRefused(response.status, `${url} answered HTTP ${response.status} without JSON`)
  }
  if (!response.ok) throw new ServerRefused(response.status, typeof body?.error === 'string' ? body.error : `HTTP ${response.status}`)
  return body
}

/**
 * The model name the server answers for and the engine that runs it.
 * @returns {Promise<{model: string, engine: string}>}
 */
export function fetchServerInfo() {
  return fetchJson('/ui/api/info')
}

/**
 * The version that answers unversioned requests: the highest AVAILABLE one in TensorFlow
 * Serving's status answer (`GET /v1/models/NAME`); undefined while none is.
 * @param {string} modelName
 * @returns {Promise<number | undefined>}
 */
export async function fetchServedVersion(modelName) {
  /** @type {{model_version_status: {version: string, state: string}[]}} */
  const body = await fetchJson(`/v1/models/${encodeURIComponent(modelName)}`)
  const available = body.model_version_status.filter((status) => status.state === 'AVAILABLE').map((status) => Number(status.version))
  return available.length > 0 ? Math.max(...available) : undefined
}

/**
 * A random MNIST test image (or the one at `index`) with its true label.
 * @param {number} [index]
 * @returns {Promise<{index: number, label: number, pixels: Float32Array}>}
 */
export async function fetchTestImage(index) {
  const query = index === undefined ? '' : `?index=${index}`
  /** @type {{index: number, label: number, pixels: number[]}} */
  const body = await fetchJson(`/ui/api/test-image${query}`)
  return {index: body.index, label: body.label, pixels: Float32Array.from(body.pixels)}
}

/**
 * One image as TensorFlow Serving's row format wants it: 28 rows of 28 numbers.
 * @param {Float32Array} image
 */
function imageRows(image) {
  /** @type {number[][]} */
  const rows = []
  for (let row = 0; row < MNIST_SIDE; row++) rows.push(Array.from(image.subarray(row * MNIST_SIDE, (row + 1) * MNIST_SIDE)))
  return rows
}

/**
 * The logits version `version` of the model computes for `image`, through TensorFlow Serving's
 * REST API (`POST /v1/models/NAME/versions/N:predict`, row format).
 * @param {string} modelName
 * @param {number} version
 * @param {Float32Array} image
 * @returns {Promise<number[]>}
 */
export async function predictOnServer(modelName, version, image) {
  /** @type {{predictions: number[][]}} */
  const body = await fetchJson(`/v1/models/${encodeURIComponent(modelName)}/versions/${version}:predict`, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({instances: [imageRows(image)]}),
  })
  return body.predictions[0]
}

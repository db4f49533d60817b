// @ts-check
/**
 * The in-browser mode: stock TensorFlow.js (the installed package's ES2017 browser bundle, served by
 * this server) loads the served version's exported `model.json` and `weights.bin` as they are
 * and runs them here. Loaded on first use, so the server mode never downloads TensorFlow.js.
 */

import {MNIST_SIDE} from './preprocess.js'

/** @typedef {typeof import('@tensorflow/tfjs')} TensorFlow */
/** @typedef {import('@tensorflow/tfjs').LayersModel} LayersModel */
/** @typedef {import('@tensorflow/tfjs').Tensor} Tensor */

const TFJS_BUNDLE = '/ui/vendor/tf.es2017.min.js'
/**
 * The plain-JavaScript backend: the same numbers on every machine, no GPU or WebAssembly needed
 * (so the Content-Security-Policy needs neither `'wasm-unsafe-eval'` nor WebGL).
 */
export const BROWSER_BACKEND = 'cpu'

/** @type {Promise<TensorFlow> | undefined} */
let loadingTensorFlow

/**
 * TensorFlow.js, loaded once by adding its bundle as a script (allowed by `script-src 'self'`).
 * @returns {Promise<TensorFlow>}
 */
function tensorFlow() {
  loadingTensorFlow ??= new Promise((resolve, reject) => {
    const script = document.createElement('script')
    script.src = TFJS_BUNDLE
    script.onload = () => resolve(/** @type {any} */ (window).tf)
    script.onerror = () => {
      loadingTensorFlow = undefined
      script.remove()
      reject(new Error(`could not load TensorFlow.js from ${TFJS_BUNDLE}`))
    }
    document.head.append(script)
  }).then(async (tf) => {
    await tf.setBackend(BROWSER_BACKEND)
    await tf.ready()
    return tf
  })
  return loadingTensorFlow
}

/** A version's exported model, loaded in this page. */
export class BrowserModel {
  /**
   * @param {TensorFlow} tf
   * @param {LayersModel} model
   * @param {number} version
   */
  constructor(tf, model, version) {
    this.tf = tf
    this.model = model
    this.version = version
  }

  /**
   * Loads version `version` with stock `tf.loadLayersModel` from the server's read-only copy of
   * its files (`/ui/model/N/model.json`, which names `weights.bin` beside it).
   * @param {number} version
   */
  static async load(version) {
    const tf = await tensorFlow()
    const model = await tf.loadLayersModel(`/ui/model/${version}/model.json`)
    return new BrowserModel(tf, model, version)
  }

  /** The backend TensorFlow.js runs on in this page. */
  get backend() {
    return this.tf.getBackend()
  }

  /**
   * The model's logits for one 28×28 image.
   * @param {Float32Array} image
   * @returns {number[]}
   */
  predict(image) {
    const logits = this.tf.tidy(() => {
      const input = this.tf.tensor3d(image, [1, MNIST_SIDE, MNIST_SIDE])
      return /** @type {Tensor} */ (this.model.predict(input))
    })
    try {
      return Array.from(logits.dataSync())
    } finally {
      logits.dispose()
    }
  }

  dispose() {
    this.model.dispose()
  }
}

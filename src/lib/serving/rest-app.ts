import express, {NextFunction, Request, Response} from 'express'

import {errorMessage} from '../errors.js'
import {RouteLabel, ServingMetrics} from './metrics.js'
import {parseFlaskBody, parsePredictBody} from './request-parsing.js'
import {logitRows, metadataBody, probabilityRows, statusBody} from './rest-bodies.js'
import {HTTP_STATUS_OF, ServingCore, ServingError, ServingLog} from './types.js'

export interface RestAppOptions {
  core: ServingCore
  /** The model the Flask route and /healthz answer for. */
  modelName: string
  metrics: ServingMetrics
  /** Largest JSON body accepted, in body-parser's notation ("1mb"). */
  bodyLimit: string
  log: ServingLog
  /** True once a graceful shutdown began: answers then close their connection. */
  isDraining?: () => boolean
}

const JSON_TYPES = ['application/json', 'application/*+json']

/** /v1/models/NAME[/versions/N][/metadata | :VERB], as TF Serving's REST API routes it. */
const MODEL_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?(\/metadata|:([A-Za-z]+))?$/

type Method = 'GET' | 'POST'

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/** body-parser's errors carry a `type`; the raw text of a body that failed to parse is in `body`. */
interface BodyParserError extends Error {
  type?: string
  status?: number
  body?: string
}

/**
 * The HTTP API: the seed's Flask route (`POST /` {"data"} → {"y": softmax rows}), TensorFlow
 * Serving's REST API (status, metadata, :predict in row and columnar formats, per version),
 * /healthz and /metrics. Every error is a one-line `{"error": …}` with a 4xx (or 503) status.
 */
export function createRestApp(options: RestAppOptions): express.Express {
  const {core, modelName, metrics, log} = options
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  const jsonParser = express.json({limit: options.bodyLimit, type: JSON_TYPES})

  /** Runs the JSON body parser only for a request that claims to be JSON. */
  const readJsonBody = (req: Request, res: Response): Promise<unknown> => {
    if (!req.is(JSON_TYPES)) {
      throw new HttpError(415, `Content-Type must be application/json, got ${req.get('content-type') ?? 'none'}`)
    }
    return new Promise((resolve, reject) => jsonParser(req, res, (error?: unknown) => (error ? reject(error) : resolve(req.body))))
  }

  app.use((req, res, next) => {
    const started = performance.now()
    res.locals.route = 'unknown'
    if (options.isDraining?.()) res.setHeader('Connection', 'close')
    res.on('finish', () => metrics.observeRequest(res.locals.route as RouteLabel, res.statusCode, (performance.now() - started) / 1000))
    next()
  })

  const allow = (req: Request, res: Response, route: RouteLabel, method: Method): void => {
    res.locals.route = route
    const allowed = method === 'GET' ? ['GET', 'HEAD'] : [method]
    if (!allowed.includes(req.method)) {
      throw new HttpError(405, `Method ${req.method} is not allowed on ${req.path} (use ${method})`, {Allow: allowed.join(', ')})
    }
  }

  app.all('/', async (req, res) => {
    allow(req, res, 'flask', 'POST')
    const {images, count} = parseFlaskBody(await readJsonBody(req, res))
    const result = await core.predict({modelName, images, count})
    res.json({y: probabilityRows(result.logits, count)})
  })

  app.all(/^\/v1\/models\/.*/, async (req, res) => {
    const match = MODEL_PATH.exec(req.path)
    if (!match || (match[4] !== undefined && match[4] !== 'predict')) throw malformed(req)
    const [, name, versionText, suffix] = match
    const version = versionText === undefined ? undefined : Number(versionText)
    if (suffix === '/metadata') {
      allow(req, res, 'model_metadata', 'GET')
      res.json(metadataBody(core.metadata(name, version)))
    } else if (suffix === undefined) {
      allow(req, res, 'model_status', 'GET')
      res.json(statusBody(core.status(name, version)))
    } else {
      allow(req, res, 'predict', 'POST')
      const parsed = parsePredictBody(await readJsonBody(req, res))
      const {images, count, signatureName} = parsed
      const result = await core.predict({modelName: name, version, signatureName, images, count})
      const rows = logitRows(result.logits, count)
      res.json(parsed.format === 'row' ? {predictions: rows} : {outputs: rows})
    }
  })

  app.all('/healthz', (req, res) => {
    allow(req, res, 'healthz', 'GET')
    if (options.isDraining?.()) throw new HttpError(503, 'shutting down')
    const served = core.status(modelName).find((status) => status.state === 'AVAILABLE')
    if (!served) throw new HttpError(503, `no version of ${modelName} is available`)
    res.json({status: 'ok', model: modelName, version: served.version})
  })

  app.all('/metrics', async (req, res) => {
    allow(req, res, 'metrics', 'GET')
    const text = await metrics.text()
    res.type(metrics.contentType).send(text)
  })

  app.use((req: Request) => {
    throw malformed(req)
  })

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.end()
    const {status, message, headers} = httpErrorOf(error, options.bodyLimit)
    if (status >= 500 && !(error instanceof ServingError)) log.error(`${req.method} ${req.path}: ${errorMessage(error)}`)
    res.status(status).set(headers).json({error: message.split('\n')[0]})
  })

  return app
}

function malformed(req: Request): HttpError {
  return new HttpError(404, `Malformed request: ${req.method} ${req.path}`)
}

/** Status, one-line message and headers for anything a handler or the body parser threw. */
function httpErrorOf(error: unknown, bodyLimit: string): {status: number; message: string; headers: Record<string, string>} {
  if (error instanceof HttpError) return {status: error.status, message: error.message, headers: error.headers}
  if (error instanceof ServingError) {
    const headers: Record<string, string> = error.retryAfterSeconds === undefined ? {} : {'Retry-After': String(error.retryAfterSeconds)}
    return {status: HTTP_STATUS_OF[error.code], message: error.message, headers}
  }
  const parserError = error as BodyParserError
  switch (parserError.type) {
    case 'entity.parse.failed': {
      const hint = /\b(?:NaN|-?Infinity)\b/.test(parserError.body ?? '') ? ' (NaN and Infinity are not JSON numbers; pixels must be finite)' : ''
      return {status: 400, message: `malformed JSON: ${parserError.message}${hint}`, headers: {}}
    }
    case 'entity.too.large':
      return {status: 413, message: `request body is over the ${bodyLimit} limit`, headers: {}}
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return {status: 415, message: parserError.message, headers: {}}
  }
  if (parserError.status !== undefined && parserError.status >= 400 && parserError.status < 500) {
    return {status: parserError.status, message: parserError.message, headers: {}}
  }
  return {status: 500, message: 'internal error', headers: {}}
}

import express, {NextFunction, Request, Response} from 'express'
import {IncomingMessage, RequestListener, ServerResponse} from 'node:http'

import {errorMessage} from '../../core/errors.js'
import {HttpError, errorAnswerOf, malformedRequest, methodNotAllowed} from './http-errors.js'
import {readJsonBody} from './json-body.js'
import {RouteLabel, ServingMetrics} from '../core/metrics.js'
import {parseFlaskBody, parsePredictBody} from './request-parsing.js'
import {logitRows, metadataBody, probabilityRows, statusBody} from './bodies.js'
import {ServingCore, ServingLog} from '../api.js'

export interface RestAppOptions {
  core: ServingCore
  /** The model the Flask route and /healthz answer for. */
  modelName: string
  metrics: ServingMetrics
  /** Largest JSON body accepted, in bytes and as the user wrote it ("1mb"). */
  bodyLimitBytes: number
  bodyLimitText: string
  log: ServingLog
  /** True once a graceful shutdown began: answers then close their connection. */
  isDraining?: () => boolean
}

/** /v1/models/NAME[/versions/N]:predict */
const PREDICT_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?:predict$/
/** /v1/models/NAME[/versions/N][/metadata] */
const MODEL_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?(\/metadata)?$/

type PredictionRoute = {label: 'flask'} | {label: 'predict'; modelName: string; version?: number}

function pathOf(url: string | undefined): string {
  const path = url ?? '/'
  const query = path.indexOf('?')
  return query === -1 ? path : path.slice(0, query)
}

function versionOf(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text)
}

function predictionRouteOf(path: string): PredictionRoute | undefined {
  if (path === '/') return {label: 'flask'}
  const match = PREDICT_PATH.exec(path)
  return match ? {label: 'predict', modelName: match[1], version: versionOf(match[2])} : undefined
}

/**
 * The HTTP API: the seed's Flask route (`POST /` {"data"} → {"y": softmax rows}), TensorFlow
 * Serving's REST API (status, metadata, :predict in row and columnar formats, per version),
 * /healthz and /metrics. Every error is a one-line `{"error": …}` with a 4xx (or 503) status.
 *
 * The two prediction routes, the hot path under load, are answered straight on node:http: going
 * through Express costs about 3× the CPU per request (measured: a bare Express JSON route
 * answers ~1,500 requests/s on this 2-core machine, node:http ~4,500). Express routes the rest.
 */
export function createRestListener(options: RestAppOptions): RequestListener {
  const app = createExpressApp(options)
  return (request, response) => {
    const path = pathOf(request.url)
    const route = predictionRouteOf(path)
    if (!route) return app(request, response)
    observe(response, () => route.label, options)
    answerPrediction(request, path, route, options).then(
      (body) => send(response, 200, body),
      (error: unknown) => sendError(request, response, error, options.log),
    )
  }
}

/** Counts the request in the metrics when its answer is sent; closes the connection when draining. */
function observe(response: ServerResponse, routeLabel: () => RouteLabel, options: RestAppOptions): void {
  const started = performance.now()
  if (options.isDraining?.()) response.setHeader('Connection', 'close')
  response.on('finish', () => options.metrics.observeRequest(routeLabel(), response.statusCode, (performance.now() - started) / 1000))
}

async function answerPrediction(request: IncomingMessage, path: string, route: PredictionRoute, options: RestAppOptions): Promise<string> {
  if (request.method !== 'POST') throw methodNotAllowed(request.method ?? '', path, 'POST')
  const body = await readJsonBody(request, options.bodyLimitBytes, options.bodyLimitText)
  if (route.label === 'flask') {
    const {images, count} = parseFlaskBody(body)
    const result = await options.core.predict({modelName: options.modelName, images, count})
    return JSON.stringify({y: probabilityRows(result.logits, count)})
  }
  const {format, signatureName, images, count} = parsePredictBody(body)
  const result = await options.core.predict({modelName: route.modelName, version: route.version, signatureName, images, count})
  const rows = logitRows(result.logits, count)
  return JSON.stringify(format === 'row' ? {predictions: rows} : {outputs: rows})
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)})
  response.end(body)
}

function sendError(request: IncomingMessage, response: ServerResponse, error: unknown, log: ServingLog): void {
  const answer = errorAnswerOf(error)
  if (answer.internal) log.error(`${request.method} ${pathOf(request.url)}: ${errorMessage(error).split('\n')[0]}`)
  if (response.headersSent) return void response.end()
  send(response, answer.status, JSON.stringify({error: answer.message}), answer.headers)
}

/** Model status and metadata, /healthz, /metrics, and the answers to every other path and method. */
function createExpressApp(options: RestAppOptions): express.Express {
  const {core, modelName, metrics} = options
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)

  const route = (req: Request, res: Response, label: RouteLabel, method: 'GET'): void => {
    res.locals.route = label
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(req.method, req.path, method)
  }

  app.use((_req, res, next) => {
    res.locals.route = 'unknown'
    observe(res, () => res.locals.route as RouteLabel, options)
    next()
  })

  app.all(/^\/v1\/models\/.*/, (req, res) => {
    const match = MODEL_PATH.exec(req.path)
    if (!match) throw malformedRequest(req.method, req.path)
    const [, name, versionText, metadataSuffix] = match
    if (metadataSuffix) {
      route(req, res, 'model_metadata', 'GET')
      res.json(metadataBody(core.metadata(name, versionOf(versionText))))
    } else {
      route(req, res, 'model_status', 'GET')
      res.json(statusBody(core.status(name, versionOf(versionText))))
    }
  })

  app.all('/healthz', (req, res) => {
    route(req, res, 'healthz', 'GET')
    if (options.isDraining?.()) throw new HttpError(503, 'shutting down')
    const served = core.status(modelName).find((status) => status.state === 'AVAILABLE')
    if (!served) throw new HttpError(503, `no version of ${modelName} is available`)
    res.json({status: 'ok', model: modelName, version: served.version})
  })

  app.all('/metrics', async (req, res) => {
    route(req, res, 'metrics', 'GET')
    const text = await metrics.text()
    res.type(metrics.contentType).send(text)
  })

  app.use((req: Request) => {
    throw malformedRequest(req.method, req.path)
  })

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => sendError(req, res, error, options.log))

  return app
}

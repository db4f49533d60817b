import express, {NextFunction, Request, Response} from 'express'
import {IncomingMessage, RequestListener} from 'node:http'

import {RestRouteOptions, observe, pathOf, send, sendError} from './answers.js'
import {HttpError, malformedRequest, methodNotAllowed} from './http-errors.js'
import {readJsonBody} from './json-body.js'
import {RouteLabel} from '../core/metrics.js'
import {parseFlaskBody, parsePredictBody} from './request-parsing.js'
import {createV2Routes} from './v2.js'
import {logitRows, metadataBody, probabilityRows, statusBody} from './bodies.js'
import {DrawingPageOptions, drawingPageRoutes, wantsDrawingPage} from './ui.js'

/** The shared REST options, and the drawing page. */
export interface RestAppOptions extends RestRouteOptions {
  /** The drawing page at `GET /` for browsers; off (`--no-ui`) when absent. */
  drawingPage?: Pick<DrawingPageOptions, 'modelDir' | 'engine'>
}

/** /v1/models/NAME[/versions/N]:predict */
const PREDICT_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?:predict$/
/** /v1/models/NAME[/versions/N][/metadata] */
const MODEL_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?(\/metadata)?$/

type PredictionRoute = {label: 'flask'} | {label: 'predict'; modelName: string; version?: number}

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
 * the Open Inference Protocol's /v2 routes (rest/v2.ts), /healthz and /metrics. Every error is a
 * one-line `{"error": …}` with a 4xx (or 503) status.
 *
 * The prediction routes (and all of /v2), the hot path under load, are answered straight on node:http: going
 * through Express costs about 3× the CPU per request (measured: a bare Express JSON route
 * answers ~1,500 requests/s on this 2-core machine, node:http ~4,500). Express routes the rest.
 */
export function createRestListener(options: RestAppOptions): RequestListener {
  const app = createExpressApp(options)
  const v2 = createV2Routes(options)
  return (request, response) => {
    const path = pathOf(request.url)
    if (v2(request, response, path)) return
    const route = predictionRouteOf(path)
    if (!route || wantsDrawingPage(request, path)) return app(request, response)
    observe(response, () => route.label, options.metrics, options.isDraining)
    answerPrediction(request, path, route, options).then(
      (body) => send(response, 200, body),
      (error: unknown) => sendError(request, response, error, options.log),
    )
  }
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
    observe(res, () => res.locals.route as RouteLabel, metrics, options.isDraining)
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

  if (options.drawingPage) app.use(drawingPageRoutes({core, modelName, ...options.drawingPage}))

  app.use((req: Request) => {
    throw malformedRequest(req.method, req.path)
  })

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => sendError(req, res, error, options.log))

  return app
}

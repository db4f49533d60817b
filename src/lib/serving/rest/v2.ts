import {IncomingMessage, ServerResponse} from 'node:http'

import {RestRouteOptions, observe, sendError} from './answers.js'
import {HttpError, methodNotAllowed} from './http-errors.js'
import {readBody} from './json-body.js'
import {INFERENCE_HEADER_LENGTH_HEADER, encodeV2InferResponse, parseV2InferBody} from './v2-body.js'
import {RouteLabel} from '../core/metrics.js'
import {inferV2, v2ModelMetadata, v2ModelReady, v2ServerMetadata} from '../core/v2-inference.js'

/**
 * The Open Inference Protocol's (KServe V2) REST API, on the same port as the other routes and
 * answered straight on node:http like the TF Serving :predict route (inference is the hot path;
 * the binary tensor extension is meant to be the fastest way in):
 *
 *   GET  /v2                                            server metadata
 *   GET  /v2/health/live, /v2/health/ready              liveness, readiness (503 while not ready)
 *   GET  /v2/models/NAME[/versions/N]                   model metadata
 *   GET  /v2/models/NAME[/versions/N]/ready             model readiness (503 while not ready)
 *   POST /v2/models/NAME[/versions/N]/infer             inference: JSON, or binary tensors
 */

/** /v2/models/NAME[/versions/N][/ready|/infer] */
const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer))?$/

type V2Route =
  | {label: 'v2_server_metadata' | 'v2_health_live' | 'v2_health_ready'}
  | {label: 'v2_model_metadata' | 'v2_model_ready' | 'v2_infer'; modelName: string; version?: string}

interface Answer {
  status: number
  body: string | Buffer
  headers: Record<string, string>
}

function routeOf(path: string): V2Route | undefined {
  if (path === '/v2' || path === '/v2/') return {label: 'v2_server_metadata'}
  if (path === '/v2/health/live') return {label: 'v2_health_live'}
  if (path === '/v2/health/ready') return {label: 'v2_health_ready'}
  const match = MODEL_PATH.exec(path)
  if (!match) return undefined
  const [, modelName, version, action] = match
  const label = action === 'infer' ? 'v2_infer' : action === 'ready' ? 'v2_model_ready' : 'v2_model_metadata'
  return {label, modelName, ...(version === undefined ? {} : {version})}
}

function json(status: number, body: unknown): Answer {
  return {status, body: JSON.stringify(body), headers: {'Content-Type': 'application/json'}}
}

/** A readiness answer: 200 with the specification's body, or 503 with it and the reason. */
function readiness(ready: boolean, body: Record<string, unknown>, reason: string): Answer {
  return ready ? json(200, {...body, ready}) : json(503, {...body, ready, error: reason})
}

function serverReadiness(options: RestRouteOptions): Answer {
  if (options.core.isReady()) return readiness(true, {}, '')
  const available = options.core.status(options.modelName).some((status) => status.state === 'AVAILABLE')
  return readiness(false, {}, available ? 'shutting down' : `no version of ${options.modelName} is available`)
}

async function answer(route: V2Route, request: IncomingMessage, path: string, options: RestRouteOptions): Promise<Answer> {
  const method = request.method ?? ''
  if (route.label === 'v2_infer') {
    if (method !== 'POST') throw methodNotAllowed(method, path, 'POST')
    const body = await readBody(request, options.bodyLimitBytes, options.bodyLimitText)
    const headerLength = request.headers[INFERENCE_HEADER_LENGTH_HEADER]
    if (Array.isArray(headerLength)) throw new HttpError(400, 'Inference-Header-Content-Length is given twice')
    const parsed = parseV2InferBody(body, headerLength)
    const response = await inferV2(options.core, {modelName: route.modelName, version: route.version, ...parsed})
    return {status: 200, ...encodeV2InferResponse(response)}
  }
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, path, 'GET')
  switch (route.label) {
    case 'v2_server_metadata':
      return json(200, v2ServerMetadata())
    case 'v2_health_live':
      return json(200, {live: true})
    case 'v2_health_ready':
      return serverReadiness(options)
    case 'v2_model_metadata':
      return json(200, v2ModelMetadata(options.core, route.modelName, route.version))
    case 'v2_model_ready': {
      const ready = v2ModelReady(options.core, route.modelName, route.version)
      const which = route.version === undefined ? route.modelName : `version ${route.version} of ${route.modelName}`
      const available = options.core.status(route.modelName).some((status) => status.state === 'AVAILABLE')
      const shuttingDown = available && !options.core.isReady()
      return readiness(ready, {name: route.modelName}, shuttingDown ? 'shutting down' : `${which} is not available`)
    }
  }
}

function sendAnswer(response: ServerResponse, {status, body, headers}: Answer): void {
  response.writeHead(status, {...headers, 'Content-Length': Buffer.byteLength(body)})
  response.end(body)
}

/**
 * The V2 routes as a node:http handler: answers a request whose path is a V2 route and returns
 * true, or returns false and leaves it to the other routes (an unknown /v2/… path gets the
 * same 404 as any unknown path).
 */
export function createV2Routes(options: RestRouteOptions): (request: IncomingMessage, response: ServerResponse, path: string) => boolean {
  return (request, response, path) => {
    if (!path.startsWith('/v2')) return false
    const route = routeOf(path)
    if (!route) return false
    observe(response, (): RouteLabel => route.label, options.metrics)
    answer(route, request, path, options).then(
      (answered) => sendAnswer(response, answered),
      (error: unknown) => sendError(request, response, error, options.log),
    )
    return true
  }
}

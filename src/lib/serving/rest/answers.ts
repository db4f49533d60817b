import {IncomingMessage, ServerResponse} from 'node:http'

import {errorMessage} from '../../core/errors.js'
import {errorAnswerOf} from './http-errors.js'
import {RouteLabel, ServingMetrics} from '../core/metrics.js'
import {ServingCore, ServingLog} from '../api.js'

/**
 * What the HTTP routes are given, and how those answered on node:http (not through Express)
 * send, count and refuse.
 */

export interface RestRouteOptions {
  core: ServingCore
  /** The model the Flask route, /healthz and /v2/health/ready answer for. */
  modelName: string
  metrics: ServingMetrics
  /** Largest JSON body accepted, in bytes and as the user wrote it ("1mb"). */
  bodyLimitBytes: number
  bodyLimitText: string
  log: ServingLog
  /** True once a graceful shutdown began: answers then close their connection. */
  isDraining?: () => boolean
}

export function pathOf(url: string | undefined): string {
  const path = url ?? '/'
  const query = path.indexOf('?')
  return query === -1 ? path : path.slice(0, query)
}

/** Counts the request in the metrics when its answer is sent; closes the connection when draining. */
export function observe(response: ServerResponse, routeLabel: () => RouteLabel, metrics: ServingMetrics, isDraining?: () => boolean): void {
  const started = performance.now()
  if (isDraining?.()) response.setHeader('Connection', 'close')
  response.on('finish', () => metrics.observeRequest(routeLabel(), response.statusCode, (performance.now() - started) / 1000))
}

export function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)})
  response.end(body)
}

/** The one-line `{"error": …}` answer for anything a handler threw (logged when it is not the client's fault). */
export function sendError(request: IncomingMessage, response: ServerResponse, error: unknown, log: ServingLog): void {
  const answer = errorAnswerOf(error)
  if (answer.internal) log.error(`${request.method} ${pathOf(request.url)}: ${errorMessage(error).split('\n')[0]}`)
  if (response.headersSent) return void response.end()
  send(response, answer.status, JSON.stringify({error: answer.message}), answer.headers)
}

import {HTTP_STATUS_OF, ServingError} from '../api.js'

/** An HTTP-level refusal (wrong method, media type, size, path) with its status and headers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

export interface ErrorAnswer {
  status: number
  /** One line, for `{"error": message}`. */
  message: string
  headers: Record<string, string>
  /** Not the client's fault: worth logging. */
  internal: boolean
}

/** Status, one-line message and headers for anything a handler threw, as TF Serving answers errors. */
export function errorAnswerOf(error: unknown): ErrorAnswer {
  if (error instanceof HttpError) return {status: error.status, message: firstLine(error.message), headers: error.headers, internal: false}
  if (error instanceof ServingError) {
    const headers: Record<string, string> = error.retryAfterSeconds === undefined ? {} : {'Retry-After': String(error.retryAfterSeconds)}
    return {status: HTTP_STATUS_OF[error.code], message: firstLine(error.message), headers, internal: error.code === 'INTERNAL'}
  }
  return {status: 500, message: 'internal error', headers: {}, internal: true}
}

function firstLine(text: string): string {
  return text.split('\n')[0]
}

/** 405 naming the method to use, with the Allow header. */
export function methodNotAllowed(method: string, path: string, allowed: 'GET' | 'POST'): HttpError {
  const allow = allowed === 'GET' ? 'GET, HEAD' : 'POST'
  return new HttpError(405, `Method ${method} is not allowed on ${path} (use ${allowed})`, {Allow: allow})
}

/** TF Serving's answer to a path it does not route. */
export function malformedRequest(method: string, path: string): HttpError {
  return new HttpError(404, `Malformed request: ${method} ${path}`)
}

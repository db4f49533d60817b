import {IncomingHttpHeaders, IncomingMessage} from 'node:http'
import {Readable} from 'node:stream'
import {brotliCompressSync, deflateSync, gzipSync} from 'node:zlib'
import {describe, expect, it} from 'vitest'

import {HttpError} from '../../../src/lib/serving/rest/http-errors.js'
import {readJsonBody} from '../../../src/lib/serving/rest/json-body.js'

const LIMIT_BYTES = 1 << 20
const BODY = JSON.stringify({data: [0, 0.5, 1]})

/** An incoming request without a socket: its headers and a body stream. */
function requestOf(headers: IncomingHttpHeaders, body: Buffer): IncomingMessage {
  return Object.assign(Readable.from([body]), {headers}) as unknown as IncomingMessage
}

async function refusal(request: IncomingMessage): Promise<HttpError> {
  const error = await readJsonBody(request, LIMIT_BYTES, '1mb').catch((e: unknown) => e)
  expect(error).toBeInstanceOf(HttpError)
  return error as HttpError
}

describe('reading a JSON request body', () => {
  it.each([
    ['gzip', gzipSync(BODY)],
    ['deflate', deflateSync(BODY)],
    ['br', brotliCompressSync(BODY)],
  ])('refuses a %s-compressed body with 415 and a one-line error', async (encoding, bytes) => {
    const error = await refusal(requestOf({'content-type': 'application/json', 'content-encoding': encoding}, bytes))
    expect(error.status).toBe(415)
    expect(error.message).toBe(`unsupported Content-Encoding "${encoding}": send plain JSON`)
  })

  it('reads a plain body, with or without Content-Encoding: identity', async () => {
    for (const headers of [{'content-type': 'application/json'}, {'content-type': 'application/json; charset=utf-8', 'content-encoding': 'identity'}]) {
      expect(await readJsonBody(requestOf(headers, Buffer.from(BODY)), LIMIT_BYTES, '1mb')).toEqual({data: [0, 0.5, 1]})
    }
  })

  it('refuses a body over the limit with 413 before reading it, when Content-Length says so', async () => {
    const error = await refusal(requestOf({'content-type': 'application/json', 'content-length': String(LIMIT_BYTES + 1)}, Buffer.from(BODY)))
    expect(error.status).toBe(413)
    expect(error.headers).toEqual({Connection: 'close'})
  })
})

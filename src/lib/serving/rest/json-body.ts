import {IncomingMessage} from 'node:http'

import {HttpError} from './http-errors.js'

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i
const UTF8_CHARSET = /^utf-?8$/i

/**
 * Reads a request's JSON body (UTF-8, at most `limitBytes`): 415 for another media type, charset
 * or a compressed body, 413 when too large (before reading, when Content-Length says so),
 * 400 with JSON.parse's reason when malformed.
 */
export async function readJsonBody(request: IncomingMessage, limitBytes: number, limitText: string): Promise<unknown> {
  const contentType = request.headers['content-type'] ?? ''
  const [mediaType, ...parameters] = contentType.split(';').map((part) => part.trim())
  if (!JSON_MEDIA_TYPE.test(mediaType)) throw new HttpError(415, `Content-Type must be application/json, got ${contentType || 'none'}`)
  const charset = parameters.find((parameter) => /^charset=/i.test(parameter))?.slice('charset='.length).replace(/"/g, '')
  if (charset !== undefined && !UTF8_CHARSET.test(charset)) throw new HttpError(415, `unsupported charset "${charset}": send UTF-8 JSON`)
  const text = (await readBody(request, limitBytes, limitText)).toString('utf8')
  if (text.length === 0) throw new HttpError(400, 'empty body: send a JSON object')
  return parseJson(text)
}

/**
 * Reads a request's body as bytes (at most `limitBytes`): 415 for a compressed body, 413 when too
 * large (before reading, when Content-Length says so).
 */
export async function readBody(request: IncomingMessage, limitBytes: number, limitText: string): Promise<Buffer> {
  const encoding = request.headers['content-encoding']
  if (encoding !== undefined && encoding !== 'identity') throw new HttpError(415, `unsupported Content-Encoding "${encoding}": send plain JSON`)
  const tooLarge = () => new HttpError(413, `request body is over the ${limitText} limit`, {Connection: 'close'})
  if (Number(request.headers['content-length']) > limitBytes) throw tooLarge()

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limitBytes) {
        request.removeAllListeners('data')
        request.resume()
        reject(tooLarge())
      } else {
        chunks.push(chunk)
      }
    })
    request.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)))
    request.on('error', reject)
  })
}

/** JSON.parse, or a 400 with its reason (and a hint when the text holds NaN or Infinity). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    const hint = /\b(?:NaN|-?Infinity)\b/.test(text) ? ' (NaN and Infinity are not JSON numbers; pixels must be finite)' : ''
    throw new HttpError(400, `malformed JSON: ${(error as Error).message}${hint}`)
  }
}

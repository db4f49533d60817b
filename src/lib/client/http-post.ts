import {Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage, request as httpRequest} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'

export interface JsonAnswer {
  status: number
  /** The parsed body; undefined when it is not JSON. */
  body: unknown
}

export interface RawAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A failure before any answer (network, timeout), with the code a report names it by. */
export class RequestFailure extends Error {
  constructor(readonly code: string) {
    super(code)
    this.name = 'RequestFailure'
  }
}

const TIMED_OUT = 'timed out'

/**
 * POSTs bodies (JSON, or the bytes of a binary protocol) to one URL over at most `connections`
 * kept-alive connections. A load client needs this to be cheap per request: node:http costs a fraction of what fetch does, so the
 * client measures the server rather than itself.
 */
export class JsonPoster {
  private readonly agent: HttpAgent
  private readonly url: URL

  constructor(
    url: string,
    connections: number,
    private readonly timeoutMs: number,
  ) {
    this.url = new URL(url)
    const Agent = this.url.protocol === 'https:' ? HttpsAgent : HttpAgent
    this.agent = new Agent({keepAlive: true, maxSockets: connections})
  }

  async post(body: string): Promise<JsonAnswer> {
    const answer = await this.send(body, {'Content-Type': 'application/json'})
    let parsed: unknown
    try {
      parsed = JSON.parse(answer.body.toString('utf8'))
    } catch {
      parsed = undefined
    }
    return {status: answer.status, body: parsed}
  }

  /** POSTs `body` with `headers` (Content-Length is added) and resolves with the raw answer. */
  send(body: string | Uint8Array, headers: Record<string, string>): Promise<RawAnswer> {
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const request = send(
        this.url,
        {method: 'POST', agent: this.agent, headers: {...headers, 'Content-Length': Buffer.byteLength(body)}},
        (response: IncomingMessage) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('end', () => resolve({status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks)}))
          response.on('error', (error: NodeJS.ErrnoException) => reject(new RequestFailure(error.code ?? error.message)))
        },
      )
      request.setTimeout(this.timeoutMs, () => request.destroy(new RequestFailure(TIMED_OUT)))
      request.on('error', (error: NodeJS.ErrnoException) => reject(error instanceof RequestFailure ? error : new RequestFailure(error.code ?? error.message)))
      request.end(body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

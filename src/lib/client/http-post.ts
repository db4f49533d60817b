import {Agent as HttpAgent, IncomingMessage, request as httpRequest} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'

export interface JsonAnswer {
  status: number
  /** The parsed body; undefined when it is not JSON. */
  body: unknown
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
 * POSTs JSON bodies to one URL over at most `connections` kept-alive connections. A load client
 * needs this to be cheap per request: node:http costs a fraction of what fetch does, so the
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

  post(body: string): Promise<JsonAnswer> {
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const request = send(
        this.url,
        {method: 'POST', agent: this.agent, headers: {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)}},
        (response: IncomingMessage) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('end', () => {
            let parsed: unknown
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
            } catch {
              parsed = undefined
            }
            resolve({status: response.statusCode ?? 0, body: parsed})
          })
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

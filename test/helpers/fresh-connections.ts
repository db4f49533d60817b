import {request} from 'node:http'

/**
 * What became of one request sent on a fresh TCP connection:
 * - `answered`: an HTTP answer arrived (any status);
 * - `refused`: the connection was refused (nothing listens any more): not a cut;
 * - `cut`: the connection was accepted, then closed or reset without an answer
 *   (ECONNRESET, EPIPE, "socket hang up");
 * - `failed`: anything else (kept apart so that a test sees it).
 */
export type ConnectionOutcome =
  | {kind: 'answered'; status: number; connectionHeader?: string; body: string}
  | {kind: 'refused'}
  | {kind: 'cut'; code: string}
  | {kind: 'failed'; code: string}

const CUT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED'])

/** Sends one request on a connection of its own (`Connection: close`, no agent) and says how it ended. */
export function requestOnFreshConnection(
  url: string,
  options: {method?: string; path: string; body?: string; headers?: Record<string, string>},
): Promise<ConnectionOutcome> {
  return new Promise((resolve) => {
    const target = new URL(options.path, url)
    const body = options.body === undefined ? undefined : Buffer.from(options.body)
    const headers: Record<string, string | number> = {Connection: 'close', ...options.headers}
    if (body) Object.assign(headers, {'Content-Type': 'application/json', 'Content-Length': body.byteLength})
    const call = request(target, {method: options.method ?? (body ? 'POST' : 'GET'), agent: false, headers}, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () =>
        resolve({kind: 'answered', status: response.statusCode ?? 0, connectionHeader: response.headers.connection, body: text}),
      )
      response.on('error', (error: NodeJS.ErrnoException) => resolve({kind: 'cut', code: error.code ?? error.message}))
    })
    call.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? error.message
      if (code === 'ECONNREFUSED') resolve({kind: 'refused'})
      else if (CUT_CODES.has(code) || error.message === 'socket hang up') resolve({kind: 'cut', code})
      else resolve({kind: 'failed', code})
    })
    call.end(body)
  })
}

export interface FreshConnectionLoad {
  outcomes: ConnectionOutcome[]
  /** Resolves when every client has stopped (each stops at its first refused connection, or on stop()). */
  finished: Promise<void>
  stop(): void
}

/**
 * `clients` loops, each sending `body` to `path` on a fresh connection per request, back to back,
 * until its connection is refused (the server stopped listening) or stop() is called.
 */
export function freshConnectionLoad(url: string, clients: number, path: string, body: string): FreshConnectionLoad {
  const outcomes: ConnectionOutcome[] = []
  let stopped = false
  const loops = Array.from({length: clients}, async () => {
    while (!stopped) {
      const outcome = await requestOnFreshConnection(url, {path, body})
      outcomes.push(outcome)
      if (outcome.kind === 'refused') return
    }
  })
  return {
    outcomes,
    finished: Promise.all(loops).then(() => undefined),
    stop: () => {
      stopped = true
    },
  }
}

/** Outcomes counted by kind; `cutCodes` lists the codes of the cut ones. */
export function countOutcomes(outcomes: ConnectionOutcome[]) {
  const count = (kind: ConnectionOutcome['kind']) => outcomes.filter((outcome) => outcome.kind === kind).length
  return {
    answered: count('answered'),
    refused: count('refused'),
    cut: count('cut'),
    failed: count('failed'),
    cutCodes: outcomes.flatMap((outcome) => (outcome.kind === 'cut' ? [outcome.code] : [])),
    failedCodes: outcomes.flatMap((outcome) => (outcome.kind === 'failed' ? [outcome.code] : [])),
    statuses: [...new Set(outcomes.flatMap((outcome) => (outcome.kind === 'answered' ? [outcome.status] : [])))].sort(),
  }
}

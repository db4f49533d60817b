import {IncomingMessage, RequestListener, Server, ServerResponse} from 'node:http'
import {Server as NetServer, Socket} from 'node:net'

/** The signals that ask `serve` to drain and stop; a second one stops at once. */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number]

/** Shell convention for a process ended by a signal it did not handle gracefully: 128 + its number. */
const FORCED_EXIT_CODE = 130

/**
 * Resolves with the first SIGTERM or SIGINT. A second signal while draining exits immediately
 * (after `onForce` says so), for an operator who does not want to wait.
 */
export function waitForShutdownSignal(onForce: (signal: ShutdownSignal) => void): Promise<ShutdownSignal> {
  return new Promise((resolve) => {
    let received = false
    for (const signal of SHUTDOWN_SIGNALS) {
      process.on(signal, () => {
        if (received) {
          onForce(signal)
          process.exit(FORCED_EXIT_CODE)
        }
        received = true
        resolve(signal)
      })
    }
  })
}

/**
 * Before the listener closes, requests wait (and so do the clients that wait for their answer
 * before connecting again) until no connection has arrived for this long, so that no connection
 * sits in the kernel's accept queue when the listener closes: Linux resets those.
 */
export const LISTENER_QUIET_MS = 50
/** The longest that wait lasts, for clients that keep connecting regardless. */
export const LISTENER_QUIET_LIMIT_MS = 1000
/** How often open connections are looked at once the listener is closed. */
const SWEEP_INTERVAL_MS = 100

interface ConnectionState {
  /** Requests read and not yet answered (answered: their response has closed). */
  inFlight: number
  /** Answers it carried since the drain began (each with `Connection: close`). */
  answeredWhileDraining: number
  /** socket.bytesRead when last looked at, and since when it has not moved with no request under way. */
  bytesRead: number
  idleSince: number
}

/**
 * The HTTP side of a graceful shutdown, which cuts no connection:
 *
 * 1. `beginDraining()`: from now on every answer carries `Connection: close`; the server keeps
 *    accepting and answering (the drain grace, while load balancers notice /readyz).
 * 2. `stopListening()`: requests are held until no connection has arrived for LISTENER_QUIET_MS,
 *    then the listener closes right after a poll of the event loop (which accepts whatever the
 *    kernel had queued), and the held requests go on. Node's `server.close()` is not used: it also
 *    closes "idle" connections, among them accepted connections whose first request has not been
 *    read yet, which would be cut.
 * 3. Every accepted connection is then kept until it has answered a request (and closes, as its
 *    answer said), or until nothing has arrived on it, with no request under way, for
 *    `idleCloseMs` after the listener closed. `stopListening()` resolves when none is left.
 * 4. `closeAll()` cuts whatever is still open (the drain timeout).
 */
export class HttpDrain {
  private readonly connections = new Map<Socket, ConnectionState>()
  private draining = false
  private held: Array<() => void> | undefined
  private lastConnectionAt = performance.now()
  private listenerClosedAt: number | undefined
  private sweepTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly server: Server,
    private readonly handler: RequestListener,
    /** A connection idle this long after the listener closed is closed (Node's keep-alive timeout by default). */
    private readonly idleCloseMs = server.keepAliveTimeout,
  ) {
    server.on('connection', (socket: Socket) => this.onConnection(socket))
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.onRequest(request, response))
  }

  /** Open connections (accepted, not yet closed). */
  get openConnections(): number {
    return this.connections.size
  }

  beginDraining(): void {
    this.draining = true
  }

  /** Stops listening (see the class comment); resolves once every connection has closed. */
  async stopListening(): Promise<void> {
    this.draining = true
    this.held = []
    await this.untilQuiet()
    const allClosed = new Promise<void>((resolve) => NetServer.prototype.close.call(this.server, () => resolve()))
    this.listenerClosedAt = performance.now()
    const held = this.held
    this.held = undefined
    for (const handle of held) handle()
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS)
    this.sweepTimer.unref()
    await allClosed
    clearInterval(this.sweepTimer)
    // Node's own bookkeeping of the http server (its connection-checking timer) ends here.
    this.server.close(() => {})
  }

  /** Destroys every open connection (the drain timeout). */
  closeAll(): void {
    for (const socket of this.connections.keys()) socket.destroy()
  }

  private onConnection(socket: Socket): void {
    this.lastConnectionAt = performance.now()
    this.connections.set(socket, {inFlight: 0, answeredWhileDraining: 0, bytesRead: 0, idleSince: this.lastConnectionAt})
    socket.once('close', () => this.connections.delete(socket))
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const state = this.connections.get(request.socket as Socket)
    if (state) {
      state.inFlight++
      response.once('close', () => {
        state.inFlight--
        if (this.draining) state.answeredWhileDraining++
        state.bytesRead = request.socket.bytesRead
        state.idleSince = performance.now()
      })
    }
    if (this.draining) response.setHeader('Connection', 'close')
    if (this.held) this.held.push(() => this.handler(request, response))
    else this.handler(request, response)
  }

  /**
   * Resolves once no connection has been accepted for LISTENER_QUIET_MS (or after
   * LISTENER_QUIET_LIMIT_MS), and then only right after a poll phase of the event loop that
   * accepted nothing: the caller's close follows in the same callback, so no connection the kernel
   * had queued by that poll is left in the accept queue. (An immediate set from the poll phase runs
   * before the next poll; one set from the check phase runs after it, hence two.)
   */
  private untilQuiet(): Promise<void> {
    const started = performance.now()
    const expired = () => performance.now() - started >= LISTENER_QUIET_LIMIT_MS
    return new Promise((resolve) => {
      const wait = () => {
        const quietFor = performance.now() - this.lastConnectionAt
        if (quietFor < LISTENER_QUIET_MS && !expired()) {
          setTimeout(wait, LISTENER_QUIET_MS - quietFor)
          return
        }
        const seen = this.lastConnectionAt
        setImmediate(() =>
          setImmediate(() => {
            if (this.lastConnectionAt === seen || expired()) resolve()
            else wait()
          }),
        )
      }
      wait()
    })
  }

  /** Closes connections that answered their request, or stayed idle for idleCloseMs after the listener closed. */
  private sweep(): void {
    const now = performance.now()
    for (const [socket, state] of this.connections) {
      if (state.inFlight > 0) continue
      if (socket.bytesRead !== state.bytesRead) {
        // Part of a request has arrived: it gets its answer.
        state.bytesRead = socket.bytesRead
        state.idleSince = now
        continue
      }
      const idleFrom = Math.max(state.idleSince, this.listenerClosedAt ?? now)
      if (state.answeredWhileDraining > 0 || now - idleFrom >= this.idleCloseMs) socket.destroy()
    }
  }
}

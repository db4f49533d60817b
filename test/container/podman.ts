import {ChildProcessWithoutNullStreams, spawn} from 'node:child_process'
import {request} from 'node:http'

import {runCommand} from '../helpers/cli.js'

/** `podman …`, failing with podman's own words when it exits non-zero. */
export async function podman(...args: string[]): Promise<string> {
  const result = await runCommand('podman', args)
  if (result.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.status}: ${result.stderr.trim()}`)
  return result.stdout.trim()
}

/** A container run attached (`podman run` without -d), so its output and exit status are the test's. */
export class AttachedContainer {
  readonly child: ChildProcessWithoutNullStreams
  output = ''
  readonly exited: Promise<number | null>

  constructor(
    readonly name: string,
    runArgs: string[],
  ) {
    this.child = spawn('podman', ['run', '--name', name, ...runArgs])
    this.child.stdout.on('data', (chunk) => (this.output += chunk))
    this.child.stderr.on('data', (chunk) => (this.output += chunk))
    this.exited = new Promise((resolve) => this.child.on('close', resolve))
  }

  /** Resolves once the container has printed `text`; rejects with its output if it exits first or `timeoutMs` passes. */
  waitForOutput(text: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.output.includes(text)) finish(resolve)
      }
      const finish = (settle: () => void) => {
        clearTimeout(timer)
        this.child.stdout.off('data', check)
        this.child.stderr.off('data', check)
        this.child.off('close', exited)
        settle()
      }
      const exited = () => finish(() => reject(new Error(`container ${this.name} exited before printing "${text}":\n${this.output}`)))
      const timer = setTimeout(
        () => finish(() => reject(new Error(`container ${this.name} did not print "${text}" within ${timeoutMs} ms:\n${this.output}`))),
        timeoutMs,
      )
      this.child.stdout.on('data', check)
      this.child.stderr.on('data', check)
      this.child.on('close', exited)
      check()
    })
  }

  /** `host:port` on this machine that reaches `containerPort` (published with -p 127.0.0.1::PORT). */
  async address(containerPort: number): Promise<string> {
    return (await podman('port', this.name, `${containerPort}/tcp`)).split('\n')[0]
  }
}

/**
 * A POST whose headers are sent with `Expect: 100-continue` and whose body waits for `send()`.
 * `continued` resolves when the server has read the headers and answered 100 Continue: from then
 * on the request is in flight in the server, whatever happens to its listening socket.
 */
export function heldPost(address: string, path: string, body: unknown) {
  const text = JSON.stringify(body)
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  const post = request({
    host,
    port,
    path,
    method: 'POST',
    agent: false,
    headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), expect: '100-continue'},
  })
  const continued = new Promise<void>((resolve) => post.once('continue', resolve))
  const answered = new Promise<{status: number; body: string}>((resolve, reject) => {
    post.on('error', reject)
    post.on('response', (response) => {
      let received = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => (received += chunk))
      response.on('end', () => resolve({status: response.statusCode ?? 0, body: received}))
      response.on('error', reject)
    })
  })
  post.flushHeaders()
  return {continued, answered, send: () => post.end(text)}
}

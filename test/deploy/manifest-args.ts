import {once} from 'node:events'
import {createServer} from 'node:net'

/** A manifest's container args are serve's flags: the value after `flag`. */
export function flagValue(args: string[], flag: string): string {
  const index = args.indexOf(flag)
  if (index === -1 || index === args.length - 1) throw new Error(`the manifest's args have no ${flag} VALUE`)
  return args[index + 1]
}

/** `args` with the value after `flag` replaced (the model directory, the ports, for a test run). */
export function withFlag(args: string[], flag: string, value: string): string[] {
  const copy = [...args]
  copy[copy.indexOf(flag) + 1] = value
  return copy
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const {port} = server.address() as {port: number}
  server.close()
  await once(server, 'close')
  return port
}

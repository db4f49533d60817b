/**
 * Setup file of the unit tier (vitest.unit.config.ts): a unit test that starts a process or
 * listens on a port fails at once, naming the rule, instead of slowing the tier down unnoticed.
 */
import childProcess from 'node:child_process'
import {syncBuiltinESMExports} from 'node:module'
import {Server} from 'node:net'

function refuse(what: string): never {
  throw new Error(`a unit test must not ${what}: it belongs to the end-to-end tier (END_TO_END_TESTS in vitest.config.ts)`)
}

const PROCESS_STARTERS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const
for (const name of PROCESS_STARTERS) {
  Object.assign(childProcess, {[name]: () => refuse(`start a process (child_process.${name})`)})
}
// http, https, http2 and gRPC servers all listen through net.Server.
Server.prototype.listen = function listen(): never {
  refuse('listen on a port')
}
syncBuiltinESMExports()

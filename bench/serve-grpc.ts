/**
 * gRPC Predict throughput and latency: single-image calls over loopback at concurrency 1, 16
 * and 64, with tensor_content and float_val. Figures only; nothing here passes or fails.
 *
 *   node --import tsx bench/serve-grpc.ts                      # starts its own server
 *   node --import tsx bench/serve-grpc.ts --target 127.0.0.1:9000 [--seconds 5]
 *
 * With --target it drives a running server (`mnist-rnn serve --grpc-port 9000`); without, it
 * starts bench/grpc-direct-server.ts (the real gRPC service over a one-pass-per-request core) in
 * a child process so the server and the load generator do not share an event loop.
 */
import {ChildProcess, spawn} from 'node:child_process'
import {once} from 'node:events'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {loadMnistSplit} from '../src/lib/data/mnist.js'
import {TENSOR_ENCODINGS} from '../src/lib/serving/grpc-tensor.js'
import {formatLoadFigures, runGrpcLoad} from './grpc-load.js'

const CONCURRENCIES = [1, 16, 64]
const IMAGE_COUNT = 1000
const WARMUP_MS = 1000

const {values: args} = parseArgs({options: {target: {type: 'string'}, seconds: {type: 'string', default: '5'}}})
const durationMs = Number(args.seconds) * 1000

async function startDirectServer(): Promise<{address: string; child: ChildProcess}> {
  const script = fileURLToPath(new URL('grpc-direct-server.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script], {stdio: ['ignore', 'pipe', 'inherit']})
  let output = ''
  for await (const chunk of child.stdout!) {
    output += chunk
    const port = /port (\d+)/.exec(output)?.[1]
    if (port) return {address: `127.0.0.1:${port}`, child}
  }
  throw new Error(`the bench server exited before listening: ${output}`)
}

const {images} = loadMnistSplit('test', undefined, IMAGE_COUNT)
const server = args.target ? undefined : await startDirectServer()
const address = args.target ?? server!.address
console.log(`gRPC Predict against ${address}${server ? ' (bench/grpc-direct-server.ts: no batching)' : ''}, ${durationMs / 1000}s per run`)
await runGrpcLoad(address, {concurrency: 4, durationMs: WARMUP_MS, images, imageCount: IMAGE_COUNT})
for (const encoding of TENSOR_ENCODINGS) {
  for (const concurrency of CONCURRENCIES) {
    const figures = await runGrpcLoad(address, {concurrency, durationMs, images, imageCount: IMAGE_COUNT, encoding})
    console.log(formatLoadFigures(`grpc ${encoding}`, figures))
  }
}
if (server) {
  server.child.kill('SIGTERM')
  await once(server.child, 'exit')
}

import {Flags} from '@oclif/core'

import {MnistCommand, backendFlag, numberFlag} from '../lib/cli/base-command.js'
import {grpcFrontend} from '../lib/serving/grpc/frontend.js'
import {DEFAULT_ONNX_THREADS, DEFAULT_ONNX_WORKERS, SERVE_DEFAULTS, ServeOptions} from '../lib/serving/options.js'
import {ENGINE_CHOICES, EngineChoice} from '../lib/export/engines/engine.js'
import {startServer} from '../lib/serving/server.js'
import {waitForShutdownSignal} from '../lib/serving/shutdown.js'
import {startupInfo, startupLines} from '../lib/serving/banner.js'
import {ServingLog} from '../lib/serving/api.js'

export default class Serve extends MnistCommand {
  static description =
    "Serve an exported model over HTTP: the seed's Flask contract (POST /), TensorFlow Serving's REST API, the Open Inference Protocol (KServe V2, /v2) and a drawing page for browsers (GET /), with request batching, hot version reloads, worker threads and graceful shutdown; versions run in ONNX Runtime (model.onnx) or TF.js"

  static examples = [
    '<%= config.bin %> serve --port 5000',
    '<%= config.bin %> serve --model-dir exportmodel --host 0.0.0.0   # reachable from other machines',
    '<%= config.bin %> serve --version 2 --workers 1 --no-batching',
    '<%= config.bin %> serve --no-ui   # the API only: no drawing page at GET /',
    "<%= config.bin %> serve --port 5000 --grpc-port 9000   # also gRPC: TF Serving's PredictionService and ModelService, V2's GRPCInferenceService",
    '<%= config.bin %> serve --engine tfjs --backend wasm   # TF.js instead of ONNX Runtime',
    `curl -s -X POST localhost:5000/v1/models/mnist:predict -H 'Content-Type: application/json' -d '{"instances": [[...784 pixels...]]}'`,
    `curl -s -X POST localhost:5000/v2/models/mnist/infer -d '{"inputs": [{"name": "x_input", "shape": [1, 784], "datatype": "FP32", "data": [...784 pixels...]}]}'`,
  ]

  static flags = {
    port: Flags.integer({default: SERVE_DEFAULTS.port, description: 'HTTP port (0 picks a free one)'}),
    host: Flags.string({default: SERVE_DEFAULTS.host, description: 'address to listen on; 0.0.0.0 exposes the server to the network'}),
    'model-dir': Flags.string({default: SERVE_DEFAULTS.modelDir, description: 'export directory holding version folders (1/, 2/, …)', helpValue: 'DIR'}),
    'model-name': Flags.string({default: SERVE_DEFAULTS.modelName, description: 'model name in /v1/models/NAME'}),
    version: Flags.integer({description: 'serve only this version (default: the highest valid one, and newer ones as they appear)'}),
    'max-batch-size': Flags.integer({default: SERVE_DEFAULTS.maxBatchSize, description: 'most images per forward pass (and per request)'}),
    'batch-timeout-ms': numberFlag({default: SERVE_DEFAULTS.batchTimeoutMs, description: 'longest a request waits for others to share its forward pass'}),
    'max-queue': Flags.integer({default: SERVE_DEFAULTS.maxQueue, description: 'requests allowed to wait; beyond that: 503 with Retry-After'}),
    batching: Flags.boolean({default: true, allowNo: true, description: 'merge concurrent requests into one forward pass (--no-batching: one pass per request)'}),
    workers: Flags.integer({
      min: 0,
      description: `inference worker threads, each holding the model; 0 runs inference on the serving thread (default: one per core on tfjs, ${DEFAULT_ONNX_WORKERS} on onnxruntime)`,
    }),
    engine: Flags.string({
      options: [...ENGINE_CHOICES],
      default: SERVE_DEFAULTS.engine,
      description: 'what runs the model: onnxruntime (model.onnx in ONNX Runtime) or tfjs (TF.js on --backend); auto takes onnxruntime when onnxruntime-node loads and the version has model.onnx',
    }),
    'onnx-threads': Flags.integer({min: 1, description: `ONNX Runtime intra-op threads per inference worker (default ${DEFAULT_ONNX_THREADS})`}),
    'poll-seconds': numberFlag({default: SERVE_DEFAULTS.pollSeconds, description: 'how often to look for new versions in --model-dir'}),
    'body-limit': Flags.string({default: SERVE_DEFAULTS.bodyLimit, description: 'largest JSON request body (e.g. 1mb, 512kb)'}),
    'grpc-port': Flags.integer({
      min: 0,
      max: 65535,
      description:
        "also serve gRPC on this port, same host (0 picks a free one); off when omitted: TensorFlow Serving's API (PredictionService Predict/GetModelMetadata, ModelService GetModelStatus) and the Open Inference Protocol's inference.GRPCInferenceService",
    }),
    ui: Flags.boolean({default: true, allowNo: true, description: 'serve the drawing page at GET / to browsers (--no-ui: the API only)'}),
    backend: backendFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Serve)
    const json = this.jsonEnabled()
    const options: ServeOptions = {
      host: flags.host,
      port: flags.port,
      modelDir: flags['model-dir'],
      modelName: flags['model-name'],
      version: flags.version,
      maxBatchSize: flags['max-batch-size'],
      batchTimeoutMs: flags['batch-timeout-ms'],
      maxQueue: flags['max-queue'],
      batching: flags.batching,
      workers: flags.workers,
      pollSeconds: flags['poll-seconds'],
      bodyLimit: flags['body-limit'],
      // The inference workers select it; this thread runs no model.
      backend: flags.backend,
      ui: flags.ui,
      engine: flags.engine as EngineChoice,
      onnxThreads: flags['onnx-threads'],
    }
    const print = (event: Record<string, unknown>, text: string, stream: 'stdout' | 'stderr' = 'stdout') => {
      if (json) process.stdout.write(`${JSON.stringify(event)}\n`)
      else process[stream].write(`${text}\n`)
    }
    const log: ServingLog = {
      info: (message) => print({event: 'log', level: 'info', message}, message),
      warn: (message) => print({event: 'log', level: 'warn', message}, `Warning: ${message}`, 'stderr'),
      error: (message) => print({event: 'log', level: 'error', message}, `Error: ${message}`, 'stderr'),
    }
    const frontends = flags['grpc-port'] === undefined ? [] : [grpcFrontend({host: flags.host, port: flags['grpc-port']})]
    const server = await startServer(options, log, frontends)
    if (json) print(startupInfo(server, options), '')
    else for (const line of startupLines(server, options)) this.log(line)

    const signal = await waitForShutdownSignal((again) => print({event: 'forced', signal: again}, `${again} again: stopping now`, 'stderr'))
    print({event: 'draining', signal}, `${signal}: no new connections; finishing in-flight requests…`)
    await server.shutdown()
    print({event: 'stopped'}, 'Stopped.')
  }
}

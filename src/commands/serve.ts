import {Flags} from '@oclif/core'

import {MnistCommand, backendFlag, numberFlag} from '../lib/cli/base-command.js'
import {grpcFrontend} from '../lib/serving/grpc/frontend.js'
import {DEFAULT_ONNX_THREADS, DEFAULT_ONNX_WORKERS, SERVE_DEFAULTS, ServeOptions, parseLabels, parseVersionPolicy} from '../lib/serving/options.js'
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
    '<%= config.bin %> serve --versions all --label stable=1 --label canary=2   # /v1/models/mnist/labels/canary:predict',
    '<%= config.bin %> serve --model-config models.config   # policy and labels re-read while serving, as TF Serving',
    '<%= config.bin %> serve --host 0.0.0.0 --drain-grace-seconds 5   # on Kubernetes: keeps answering while endpoints update',
    `curl -s -X POST localhost:5000/v1/models/mnist:predict -H 'Content-Type: application/json' -d '{"instances": [[...784 pixels...]]}'`,
    `curl -s -X POST localhost:5000/v2/models/mnist/infer -d '{"inputs": [{"name": "x_input", "shape": [1, 784], "datatype": "FP32", "data": [...784 pixels...]}]}'`,
  ]

  static flags = {
    port: Flags.integer({default: SERVE_DEFAULTS.port, description: 'HTTP port (0 picks a free one)'}),
    host: Flags.string({default: SERVE_DEFAULTS.host, description: 'address to listen on; 0.0.0.0 exposes the server to the network'}),
    'model-dir': Flags.string({default: SERVE_DEFAULTS.modelDir, description: 'export directory holding version folders (1/, 2/, …)', helpValue: 'DIR'}),
    'model-name': Flags.string({default: SERVE_DEFAULTS.modelName, description: 'model name in /v1/models/NAME'}),
    version: Flags.integer({description: 'serve only this version (the same as --versions specific:N)', exclusive: ['versions']}),
    versions: Flags.string({
      default: 'latest',
      helpValue: 'POLICY',
      description:
        "which versions are loaded and AVAILABLE at once, as TF Serving's model_version_policy: latest (the highest that loads), latest:N, all, or specific:1,3; each answers on /versions/N, unversioned requests get the highest",
    }),
    label: Flags.string({
      multiple: true,
      helpValue: 'NAME=VERSION',
      description: 'a version label (repeatable): /v1/models/NAME/labels/LABEL:predict and gRPC model_spec.version_label go to VERSION, which must be AVAILABLE',
    }),
    'model-config': Flags.string({
      helpValue: 'FILE',
      exclusive: ['model-dir', 'model-name', 'versions', 'version', 'label'],
      description:
        "TF Serving's model config file (ModelServerConfig text format: model_config_list { config { name base_path model_version_policy version_labels } }), re-read every --poll-seconds so that the version policy and labels change without a restart",
    }),
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
    'drain-grace-seconds': numberFlag({
      default: SERVE_DEFAULTS.drainGraceSeconds,
      description:
        'after SIGTERM/SIGINT, keep accepting and answering this long (not ready: /readyz answers 503) before the listener closes; on Kubernetes, long enough for the endpoint removal to reach every load balancer',
    }),
    'drain-timeout-seconds': numberFlag({
      default: SERVE_DEFAULTS.drainTimeoutSeconds,
      description: 'after the listener closed, how long requests under way may take before their connections are cut',
    }),
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
      versionPolicy: parseVersionPolicy(flags.versions),
      labels: parseLabels(flags.label ?? []),
      modelConfigFile: flags['model-config'],
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
      drainGraceSeconds: flags['drain-grace-seconds'],
      drainTimeoutSeconds: flags['drain-timeout-seconds'],
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
    const grace = options.drainGraceSeconds > 0 ? `answering for ${options.drainGraceSeconds} s more, then ` : ''
    print({event: 'draining', signal}, `${signal}: draining (not ready); ${grace}finishing the requests under way…`)
    await server.shutdown()
    print({event: 'stopped'}, 'Stopped.')
  }
}

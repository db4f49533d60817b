import {Flags} from '@oclif/core'

import {withProgressBar} from '../lib/cli/progress.js'
import {MnistCommand, dataDirFlag} from '../lib/cli/base-command.js'
import {CLIENT_APIS, ClientApi, LoadClientReport, formatLoadClientReport, runLoadClient} from '../lib/client/load-client.js'
import {DEFAULT_HOST, DEFAULT_MODEL_NAME, DEFAULT_PORT} from '../lib/serving/options.js'

const DEFAULT_TIMEOUT_MS = 30_000

export default class Client extends MnistCommand {
  static description =
    'Send real MNIST test images to a running `mnist-rnn serve` and report accuracy, errors, requests/s and latency p50/p95/p99'

  static examples = [
    '<%= config.bin %> client',
    '<%= config.bin %> client --url http://127.0.0.1:5000 --api rest --num-tests 1000 --concurrency 16',
    '<%= config.bin %> client --api flask --json',
    '<%= config.bin %> client --api grpc --url grpc://127.0.0.1:9000 --concurrency 16   # serve --grpc-port 9000',
    '<%= config.bin %> client --api v2 --num-tests 1000 --concurrency 16          # Open Inference Protocol (KServe V2), JSON tensors',
    '<%= config.bin %> client --api v2-binary --concurrency 64                    # V2 with binary tensors (Triton\'s extension)',
    '<%= config.bin %> client --api v2-grpc --url grpc://127.0.0.1:9000           # V2 gRPC ModelInfer, raw tensors',
  ]

  static flags = {
    url: Flags.string({default: `http://${DEFAULT_HOST}:${DEFAULT_PORT}`, description: "the server's base URL (grpc://HOST:PORT for --api grpc and v2-grpc)"}),
    api: Flags.option({
      options: CLIENT_APIS,
      default: 'flask' as ClientApi,
      description:
        "flask: the seed's POST / {\"data\"}; rest: TF Serving's POST /v1/models/NAME:predict; grpc: TF Serving's gRPC PredictionService/Predict; " +
        'v2: the Open Inference Protocol\'s POST /v2/models/NAME/infer with JSON tensors; v2-binary: the same with binary tensors (Inference-Header-Content-Length); ' +
        'v2-grpc: its gRPC GRPCInferenceService/ModelInfer with raw_input_contents',
    })(),
    'model-name': Flags.string({default: DEFAULT_MODEL_NAME, description: 'model name for every --api but flask'}),
    'num-tests': Flags.integer({default: 100, description: 'how many test images to send (one per request)'}),
    concurrency: Flags.integer({default: 1, description: 'requests in flight at once'}),
    'timeout-ms': Flags.integer({default: DEFAULT_TIMEOUT_MS, description: 'give up on a request after this long'}),
    'data-dir': dataDirFlag,
  }

  async run(): Promise<LoadClientReport> {
    const {flags} = await this.parse(Client)
    const report = await withProgressBar(!this.jsonEnabled(), 'Sending [{bar}] {value}/{total} requests', (onProgress) =>
      runLoadClient({
        url: flags.url,
        api: flags.api,
        modelName: flags['model-name'],
        numTests: flags['num-tests'],
        concurrency: flags.concurrency,
        dataDir: flags['data-dir'],
        timeoutMs: flags['timeout-ms'],
        onProgress,
      }),
    )
    for (const line of formatLoadClientReport(report)) this.log(line)
    return report
  }
}

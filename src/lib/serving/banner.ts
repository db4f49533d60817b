import {RunningServer} from './server.js'
import {ServeOptions} from './options.js'
import {TensorSpec} from '../export/format.js'

function tensorText(alias: string, info: TensorSpec): string {
  return `${alias} ${info.dtype} [${info.shape.join(', ')}]`
}

/** "Engine onnxruntime (why), 2 intra-op threads" or "Engine tfjs (why) on backend wasm". */
export function engineText(server: Pick<RunningServer, 'engine' | 'backend' | 'onnxThreads'>): string {
  const {engine, reason} = server.engine
  if (engine === 'onnxruntime') return `Engine onnxruntime (${reason}), ${server.onnxThreads} intra-op thread${server.onnxThreads === 1 ? '' : 's'}`
  return `Engine tfjs (${reason}) on backend ${server.backend}`
}

/** What `serve` prints once it listens: model, version, signature, engine, backend, workers, URLs. */
export function startupLines(server: RunningServer, options: ServeOptions): string[] {
  const signatures = Object.entries(server.signatures).map(([name, def]) => {
    const inputs = Object.entries(def.inputs).map(([alias, info]) => tensorText(alias, info))
    const outputs = Object.entries(def.outputs).map(([alias, info]) => tensorText(alias, info))
    return `${name}: ${inputs.join(', ')} → ${outputs.join(', ')}`
  })
  const batching = options.batching
    ? `batching up to ${options.maxBatchSize} images or ${options.batchTimeoutMs} ms`
    : `no batching (one forward pass per request)`
  const model = `${server.url}/v1/models/${server.modelName}`
  const inference =
    server.workers === 0 ? 'inference on the serving thread (--workers 0)' : `${server.workers} inference worker${server.workers === 1 ? '' : 's'}`
  return [
    `Model ${server.modelName} version ${server.version} from ${options.modelDir}${options.version === undefined ? ` (watching for new versions every ${options.pollSeconds} s)` : ' (pinned)'}`,
    `Signature ${signatures.join('; ')}`,
    `${engineText(server)}, ${inference}, ${batching}, queue ${options.maxQueue}`,
    `  POST ${server.url}/                 Flask: {"data": [784 pixels]} → {"y": [[10 probabilities]]}`,
    `  POST ${model}:predict   TF Serving: {"instances": [...]} or {"inputs": [...]}`,
    `  GET  ${model}           status;  GET ${model}/metadata`,
    `  POST ${server.url}/v2/models/${server.modelName}/infer   Open Inference Protocol (KServe V2): JSON or binary tensors`,
    `  GET  ${server.url}/v2   GET ${server.url}/v2/health/{live,ready}   GET ${server.url}/v2/models/${server.modelName}[/ready]`,
    `  GET  ${server.url}/healthz   GET ${server.url}/metrics`,
    ...server.frontends.map((frontend) => `  ${frontend.name} ${frontend.address}`),
    ...(options.ui ? [`Drawing page: open ${server.url}/ in a browser`] : []),
    `Listening on ${server.url} (SIGTERM or Ctrl-C drains and stops)`,
  ]
}

/** The same facts as one object, for `serve --json`. */
export function startupInfo(server: RunningServer, options: ServeOptions) {
  return {
    event: 'listening',
    url: server.url,
    port: server.port,
    model: server.modelName,
    version: server.version,
    modelDir: options.modelDir,
    signatures: server.signatures,
    engine: server.engine.engine,
    engineReason: server.engine.reason,
    backend: server.backend ?? null,
    onnxThreads: server.engine.engine === 'onnxruntime' ? server.onnxThreads : null,
    workers: server.workers,
    batching: options.batching,
    maxBatchSize: options.maxBatchSize,
    batchTimeoutMs: options.batchTimeoutMs,
    maxQueue: options.maxQueue,
    frontends: server.frontends.map(({name, address}) => ({name, address})),
    page: options.ui ? `${server.url}/` : null,
  }
}

import {RunningServer} from './server.js'
import {ServeOptions} from './options.js'
import {TensorSpec} from '../export/format.js'

function tensorText(alias: string, info: TensorSpec): string {
  return `${alias} ${info.dtype} [${info.shape.join(', ')}]`
}

/** What `serve` prints once it listens: model, version, signature, backend, workers, URLs. */
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
  return [
    `Model ${server.modelName} version ${server.version} from ${options.modelDir}${options.version === undefined ? ` (watching for new versions every ${options.pollSeconds} s)` : ' (pinned)'}`,
    `Signature ${signatures.join('; ')}`,
    `Backend ${server.backend}, ${server.workers} inference worker${server.workers === 1 ? '' : 's'}, ${batching}, queue ${options.maxQueue}`,
    `  POST ${server.url}/                 Flask: {"data": [784 pixels]} → {"y": [[10 probabilities]]}`,
    `  POST ${model}:predict   TF Serving: {"instances": [...]} or {"inputs": [...]}`,
    `  GET  ${model}           status;  GET ${model}/metadata`,
    `  GET  ${server.url}/healthz   GET ${server.url}/metrics`,
    ...server.frontends.map((frontend) => `  ${frontend.name} ${frontend.address}`),
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
    backend: server.backend,
    workers: server.workers,
    batching: options.batching,
    maxBatchSize: options.maxBatchSize,
    batchTimeoutMs: options.batchTimeoutMs,
    maxQueue: options.maxQueue,
    frontends: server.frontends.map(({name, address}) => ({name, address})),
  }
}

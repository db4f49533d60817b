import protobuf from 'protobufjs'
import {readFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {UserError, errorMessage} from '../../core/errors.js'
import {PROTO_DIR} from '../../core/protos.js'
import {parseTextFormat} from '../../core/text-format.js'
import {VersionPolicy} from '../api.js'
import {checkLabelName, checkModelName} from '../options.js'

/**
 * `serve --model-config FILE`: TensorFlow Serving's model server config file
 * (`--model_config_file`), a `ModelServerConfig` in protobuf text format, read strictly against
 * TF Serving's own model_server_config.proto:
 *
 *     model_config_list {
 *       config {
 *         name: "mnist"
 *         base_path: "/models/mnist"
 *         model_platform: "tensorflow"
 *         model_version_policy { specific { versions: 1 versions: 2 } }
 *         version_labels { key: "stable" value: 1 }
 *         version_labels { key: "canary" value: 2 }
 *       }
 *     }
 *
 * `serve` serves one model, so the list holds exactly one config. A relative base_path is taken
 * from the file's folder.
 */

const MODEL_SERVER_CONFIG_PROTO = 'tensorflow_serving/config/model_server_config.proto'
const MODEL_SERVER_CONFIG_TYPE = 'tensorflow.serving.ModelServerConfig'
/** The platform TF Serving assumes; any other is refused. */
const SERVED_PLATFORM = 'tensorflow'

export interface ModelConfig {
  name: string
  /** The model directory (absolute, or as written when the file's path is relative). */
  basePath: string
  policy: VersionPolicy
  labels: Record<string, number>
}

let configType: protobuf.Type | undefined

function modelServerConfigType(): protobuf.Type {
  if (!configType) {
    const root = new protobuf.Root()
    // google/protobuf/*.proto are protobufjs' own; everything else is under proto/.
    root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target))
    root.loadSync(MODEL_SERVER_CONFIG_PROTO, {keepCase: true})
    configType = root.lookupType(MODEL_SERVER_CONFIG_TYPE)
  }
  return configType
}

interface ModelConfigMessage {
  name?: string
  base_path?: string
  model_type?: string
  model_platform?: string
  model_version_policy?: {latest?: {num_versions?: number}; all?: object; specific?: {versions?: number[]}}
  version_labels?: Record<string, number>
  logging_config?: object
}

function policyOf(message: ModelConfigMessage['model_version_policy'], fail: (why: string) => never): VersionPolicy {
  if (!message || message.latest) {
    // proto3: an unset num_versions is 0, which TF Serving reads as its default, 1.
    return {kind: 'latest', numVersions: message?.latest?.num_versions || 1}
  }
  if (message.all) return {kind: 'all'}
  if (message.specific) {
    const versions = message.specific.versions ?? []
    if (versions.length === 0) fail('model_version_policy.specific names no versions')
    const bad = versions.find((version) => version < 1)
    if (bad !== undefined) fail(`model_version_policy.specific: ${bad} is not a version number`)
    if (new Set(versions).size !== versions.length) fail('model_version_policy.specific names a version twice')
    return {kind: 'specific', versions: [...versions].sort((a, b) => b - a)}
  }
  return fail('model_version_policy sets none of latest, all, specific')
}

/** The one model `text` configures; a UserError naming `file` (and line:column) when it is not valid. */
export function parseModelConfig(text: string, file: string): ModelConfig {
  const fail = (why: string): never => {
    throw new UserError(`${file}: ${why}`)
  }
  const server = parseTextFormat(text, modelServerConfigType(), file) as {model_config_list?: {config?: ModelConfigMessage[]}; custom_model_config?: object}
  if (server.custom_model_config) fail('custom_model_config is not supported; write a model_config_list')
  const configs = server.model_config_list?.config ?? []
  if (configs.length !== 1) fail(`model_config_list must hold exactly one config (serve serves one model), it holds ${configs.length}`)
  const config = configs[0]
  if (!config.name) fail('config.name is required')
  if (!config.base_path) fail('config.base_path is required')
  if (config.model_type !== undefined) fail('model_type is deprecated (TF Serving too reads model_platform); leave it out')
  if (config.model_platform && config.model_platform !== SERVED_PLATFORM) {
    fail(`model_platform "${config.model_platform}" is not served (leave it out or write "${SERVED_PLATFORM}")`)
  }
  if (config.logging_config) fail('logging_config is not supported')
  try {
    checkModelName(config.name!, 'config.name')
  } catch (error) {
    fail(errorMessage(error))
  }
  const labels: Record<string, number> = {}
  for (const [label, version] of Object.entries(config.version_labels ?? {})) {
    checkLabelName(label, `${file}: version_labels`)
    if (version < 1) fail(`version_labels: label ${label} names ${version}, not a version number`)
    labels[label] = version
  }
  return {
    name: config.name!,
    basePath: resolve(dirname(file), config.base_path!),
    policy: policyOf(config.model_version_policy, fail),
    labels,
  }
}

/** Reads and parses a model config file; a UserError when it cannot be read or is not valid. */
export function readModelConfigFile(file: string): ModelConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(`cannot read the model config ${file}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`)
  }
  return parseModelConfig(text, file)
}

import {describe, expect, it} from 'vitest'

import {parseModelConfig} from '../../src/lib/serving/core/model-config.js'
import {parseLabels, parseVersionPolicy} from '../../src/lib/serving/options.js'

const FILE = '/etc/serving/models.config'

/** A ModelServerConfig holding one config whose body is `body`. */
function oneModel(body: string): string {
  return `model_config_list {\n  config {\n${body}\n  }\n}\n`
}

describe('model config files: TF Serving ModelServerConfig in text format, read strictly', () => {
  it('reads name, base_path (relative to the file), policy and labels, in every notation text format allows', () => {
    const text = `# TF Serving's own example, with a canary
model_config_list: {
  config: <
    name: 'mnist'   # single quotes too
    base_path: "/models/"
      "mnist"
    model_platform: "tensorflow";
    model_version_policy { specific { versions: [1, 2] } },
    version_labels { key: "stable" value: 1 }
    version_labels: { key: "canary", value: 0x2 }
  >
}`
    expect(parseModelConfig(text, FILE)).toEqual({
      name: 'mnist',
      basePath: '/models/mnist',
      policy: {kind: 'specific', versions: [2, 1]},
      labels: {stable: 1, canary: 2},
    })
    expect(parseModelConfig(oneModel('name: "mnist" base_path: "exportmodel"'), FILE)).toEqual({
      name: 'mnist',
      basePath: '/etc/serving/exportmodel',
      policy: {kind: 'latest', numVersions: 1},
      labels: {},
    })
    const policy = (body: string) => parseModelConfig(oneModel(`name: "m" base_path: "b" model_version_policy { ${body} }`), FILE).policy
    expect(policy('latest {}')).toEqual({kind: 'latest', numVersions: 1})
    expect(policy('latest { num_versions: 3 }')).toEqual({kind: 'latest', numVersions: 3})
    expect(policy('all {}')).toEqual({kind: 'all'})
  })

  it.each([
    ['an unknown field', oneModel('name: "m" base_path: "b" versions: 2'), `${FILE}:3:26: tensorflow.serving.ModelConfig has no field "versions" (its fields: name, base_path, model_type, model_platform, model_version_policy, version_labels, logging_config)`],
    ['a field set twice', oneModel('name: "m" name: "n" base_path: "b"'), `${FILE}:3:11: name is set twice`],
    ['two policies', oneModel('name: "m" base_path: "b" model_version_policy { all {} specific { versions: 1 } }'), `${FILE}:3:56: "specific" and "all" are both set, but only one of oneof policy_choice may be`],
    ['an unquoted string', oneModel('name: mnist base_path: "b"'), `${FILE}:3:7: name takes a quoted string, got mnist`],
    ['a negative count', oneModel('name: "m" base_path: "b" model_version_policy { latest { num_versions: -1 } }'), `${FILE}:3:72: num_versions: -1 is out of range for uint32`],
    ['a fraction for a version', oneModel('name: "m" base_path: "b" model_version_policy { specific { versions: 1.5 } }'), `${FILE}:3:70: versions takes a whole number (int64), got 1.5`],
    ['a label given twice', oneModel('name: "m" base_path: "b" version_labels { key: "a" value: 1 } version_labels { key: "a" value: 2 }'), `${FILE}:3:63: version_labels has key "a" twice`],
    ['an unterminated string', oneModel('name: "m'), `${FILE}:3:7: unterminated string`],
    ['an unclosed brace', 'model_config_list { config { name: "m" base_path: "b" }', `${FILE}:1:56: "}" expected before the end of the file (in tensorflow.serving.ModelConfigList)`],
    ['an Any expansion', 'custom_model_config { [type.googleapis.com/x.Y] { } }', `${FILE}:1:23: extensions and Any expansions are not supported`],
    ['no config', 'model_config_list {}', `${FILE}: model_config_list must hold exactly one config (serve serves one model), it holds 0`],
    ['two configs', 'model_config_list { config { name: "a" base_path: "a" } config { name: "b" base_path: "b" } }', `${FILE}: model_config_list must hold exactly one config (serve serves one model), it holds 2`],
    ['no base_path', oneModel('name: "m"'), `${FILE}: config.base_path is required`],
    ['another platform', oneModel('name: "m" base_path: "b" model_platform: "pytorch"'), `${FILE}: model_platform "pytorch" is not served (leave it out or write "tensorflow")`],
    ['a deprecated model_type', oneModel('name: "m" base_path: "b" model_type: TENSORFLOW'), `${FILE}: model_type is deprecated (TF Serving too reads model_platform); leave it out`],
    ['an empty specific policy', oneModel('name: "m" base_path: "b" model_version_policy { specific {} }'), `${FILE}: model_version_policy.specific names no versions`],
    ['a label REST cannot route', oneModel('name: "m" base_path: "b" version_labels { key: "a/b" value: 1 }'), `${FILE}: version_labels: a label must be a word without "/", ":" or spaces, got "a/b"`],
  ])('refuses %s, saying where and why', (_what, text, message) => {
    expect(() => parseModelConfig(text, FILE)).toThrow(message)
  })
})

describe('--versions and --label', () => {
  it('reads TF Serving policies in a short notation', () => {
    expect(parseVersionPolicy('latest')).toEqual({kind: 'latest', numVersions: 1})
    expect(parseVersionPolicy('latest:3')).toEqual({kind: 'latest', numVersions: 3})
    expect(parseVersionPolicy('all')).toEqual({kind: 'all'})
    expect(parseVersionPolicy('specific:1,3')).toEqual({kind: 'specific', versions: [3, 1]})
    expect(() => parseVersionPolicy('latest:0')).toThrow('--versions latest:0: "0" is not a whole number ≥ 1 (expected latest, latest:N, all or specific:V1,V2,…)')
    expect(() => parseVersionPolicy('specific:1,x')).toThrow('--versions specific:1,x: "x" is not a version number')
    expect(() => parseVersionPolicy('newest')).toThrow('--versions newest: unknown policy')
  })

  it('reads labels as NAME=VERSION', () => {
    expect(parseLabels(['stable=1', 'canary=2'])).toEqual({stable: 1, canary: 2})
    expect(() => parseLabels(['canary'])).toThrow('--label canary: expected NAME=VERSION, e.g. --label canary=2')
    expect(() => parseLabels(['canary=two'])).toThrow('--label canary=two: "two" is not a version number')
    expect(() => parseLabels(['a=1', 'a=2'])).toThrow('--label a=2: label "a" is given twice')
  })
})

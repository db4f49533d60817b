import protobuf from 'protobufjs'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, describe, expect, it} from 'vitest'

import {UserError} from '../../src/lib/core/errors.js'
import {DEFAULT_TRITON_MAX_BATCH_SIZE, tritonConfigText, writeTritonVersion} from '../../src/lib/export/triton.js'
import {makeTempDir} from '../helpers/cli.js'
import {parseTextFormat} from '../../src/lib/core/text-format.js'

const MODEL_CONFIG_PROTO = fileURLToPath(new URL('../../proto/triton/model_config.proto', import.meta.url))

function modelConfigType(): protobuf.Type {
  return new protobuf.Root().loadSync(MODEL_CONFIG_PROTO, {keepCase: true}).lookupType('inference.ModelConfig')
}

describe('Triton model repository', () => {
  const temp = makeTempDir('mnist-rnn-triton-')
  afterAll(() => temp.cleanup())
  const ModelConfig = modelConfigType()

  it("writes config.pbtxt that parses as Triton's ModelConfig: onnxruntime_onnx, FP32 x_input [28, 28] → y_output [10], dynamic batching", () => {
    const config = parseTextFormat(tritonConfigText({name: 'mnist', maxBatchSize: 256}), ModelConfig, 'config.pbtxt')
    expect(config).toEqual({
      name: 'mnist',
      platform: 'onnxruntime_onnx',
      max_batch_size: 256,
      input: [{name: 'x_input', data_type: 'TYPE_FP32', dims: [28, 28]}],
      output: [{name: 'y_output', data_type: 'TYPE_FP32', dims: [10]}],
      dynamic_batching: {},
    })
    // protobufjs accepts it as a ModelConfig and encodes it.
    expect(ModelConfig.verify(ModelConfig.fromObject(config))).toBeNull()
    expect(ModelConfig.encode(ModelConfig.fromObject(config)).finish().length).toBeGreaterThan(0)
  })

  it('has a strict parser that rejects what Triton would reject', () => {
    const wrong = [
      ['an unknown field', 'name: "m"\nplatfrom: "onnxruntime_onnx"'],
      ['an unknown enum value', 'input [ { name: "x" data_type: TYPE_FLOAT32 dims: [ 1 ] } ]'],
      ['a string for a number', 'max_batch_size: "8"'],
      ['a singular field twice', 'name: "a"\nname: "b"'],
      ['an unclosed message', 'dynamic_batching {'],
    ]
    for (const [what, text] of wrong) expect(() => parseTextFormat(text, ModelConfig, 'config.pbtxt'), what).toThrow()
  })

  it('lays out DIR/<model>/config.pbtxt and DIR/<model>/<version>/model.onnx, refusing to overwrite a version without force', () => {
    const onnx = Buffer.from('not really onnx, but bytes to copy')
    const result = writeTritonVersion({repoDir: temp.dir, modelName: 'mnist', version: 3, onnxModel: onnx})
    expect(result.configPath).toBe(join(temp.dir, 'mnist', 'config.pbtxt'))
    expect(result.modelPath).toBe(join(temp.dir, 'mnist', '3', 'model.onnx'))
    expect(readFileSync(result.modelPath).equals(onnx)).toBe(true)
    const config = parseTextFormat(readFileSync(result.configPath, 'utf8'), ModelConfig, 'config.pbtxt')
    expect(config.max_batch_size).toBe(DEFAULT_TRITON_MAX_BATCH_SIZE)
    expect(readdirSync(join(temp.dir, 'mnist')).sort()).toEqual(['3', 'config.pbtxt'])

    expect(() => writeTritonVersion({repoDir: temp.dir, modelName: 'mnist', version: 3, onnxModel: onnx})).toThrow(UserError)
    const replaced = writeTritonVersion({repoDir: temp.dir, modelName: 'mnist', version: 3, onnxModel: Buffer.from('new'), force: true})
    expect(replaced.replaced).toBe(true)
    expect(readFileSync(replaced.modelPath, 'utf8')).toBe('new')
    writeTritonVersion({repoDir: temp.dir, modelName: 'mnist', version: 4, onnxModel: onnx, maxBatchSize: 32})
    expect(parseTextFormat(readFileSync(result.configPath, 'utf8'), ModelConfig, 'config.pbtxt').max_batch_size).toBe(32)
    expect(readdirSync(join(temp.dir, 'mnist')).sort()).toEqual(['3', '4', 'config.pbtxt'])
  })

  it('refuses a model name that is not a folder name', () => {
    for (const name of ['', '..', 'a/b', 'a b']) {
      expect(() => writeTritonVersion({repoDir: temp.dir, modelName: name, version: 1, onnxModel: Buffer.from('x')})).toThrow(UserError)
    }
    expect(existsSync(join(temp.dir, 'a'))).toBe(false)
  })
})

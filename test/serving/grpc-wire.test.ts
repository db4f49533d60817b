import * as grpc from '@grpc/grpc-js'
import protobuf from 'protobufjs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {selectBackend} from '../../src/lib/backend.js'
import {loadMnistSplit} from '../../src/lib/data/mnist.js'
import {GrpcServer, startGrpcServer} from '../../src/lib/serving/grpc/service.js'
import {TEST_MODEL_NAME, TEST_VERSION, TestServingCore} from './grpc-test-core.js'

/**
 * TensorFlow Serving's messages declared here by hand, with the field numbers of TF Serving's and
 * TensorFlow's public .proto files and nothing from the repo's proto/ folder: requests encoded
 * with these and sent as raw bytes show that the server is wire-compatible with TF Serving's own
 * clients, not just consistent with itself.
 */
const WIRE_DESCRIPTOR = {
  nested: {
    google: {nested: {protobuf: {nested: {Int64Value: {fields: {value: {type: 'int64', id: 1}}}}}}},
    tensorflow: {
      nested: {
        DataType: {values: {DT_INVALID: 0, DT_FLOAT: 1, DT_DOUBLE: 2}},
        TensorShapeProto: {
          fields: {dim: {rule: 'repeated', type: 'Dim', id: 2}, unknown_rank: {type: 'bool', id: 3}},
          nested: {Dim: {fields: {size: {type: 'int64', id: 1}, name: {type: 'string', id: 2}}}},
        },
        TensorProto: {
          fields: {
            dtype: {type: 'DataType', id: 1},
            tensor_shape: {type: 'TensorShapeProto', id: 2},
            version_number: {type: 'int32', id: 3},
            tensor_content: {type: 'bytes', id: 4},
            float_val: {rule: 'repeated', type: 'float', id: 5, options: {packed: true}},
          },
        },
        // The same field, unpacked: proto3 parsers must accept both encodings of a repeated float.
        UnpackedTensorProto: {
          fields: {
            dtype: {type: 'DataType', id: 1},
            tensor_shape: {type: 'TensorShapeProto', id: 2},
            float_val: {rule: 'repeated', type: 'float', id: 5, options: {packed: false}},
          },
        },
        serving: {
          nested: {
            ModelSpec: {
              fields: {
                name: {type: 'string', id: 1},
                version: {type: 'google.protobuf.Int64Value', id: 2},
                signature_name: {type: 'string', id: 3},
              },
            },
            PredictRequest: {
              fields: {
                model_spec: {type: 'ModelSpec', id: 1},
                inputs: {keyType: 'string', type: 'tensorflow.TensorProto', id: 2},
                output_filter: {rule: 'repeated', type: 'string', id: 3},
              },
            },
            UnpackedPredictRequest: {
              fields: {model_spec: {type: 'ModelSpec', id: 1}, inputs: {keyType: 'string', type: 'tensorflow.UnpackedTensorProto', id: 2}},
            },
            PredictResponse: {
              fields: {outputs: {keyType: 'string', type: 'tensorflow.TensorProto', id: 1}, model_spec: {type: 'ModelSpec', id: 2}},
            },
            GetModelStatusRequest: {fields: {model_spec: {type: 'ModelSpec', id: 1}}},
            ModelVersionStatus: {
              fields: {version: {type: 'int64', id: 1}, state: {type: 'int32', id: 2}, status: {type: 'StatusProto', id: 3}},
            },
            StatusProto: {fields: {error_code: {type: 'int32', id: 1}, error_message: {type: 'string', id: 2}}},
            GetModelStatusResponse: {fields: {model_version_status: {rule: 'repeated', type: 'ModelVersionStatus', id: 1}}},
            GetModelMetadataRequest: {fields: {model_spec: {type: 'ModelSpec', id: 1}, metadata_field: {rule: 'repeated', type: 'string', id: 2}}},
            Any: {fields: {type_url: {type: 'string', id: 1}, value: {type: 'bytes', id: 2}}},
            GetModelMetadataResponse: {fields: {model_spec: {type: 'ModelSpec', id: 1}, metadata: {keyType: 'string', type: 'Any', id: 2}}},
            TensorInfo: {fields: {name: {type: 'string', id: 1}, dtype: {type: 'tensorflow.DataType', id: 2}, tensor_shape: {type: 'tensorflow.TensorShapeProto', id: 3}}},
            SignatureDef: {
              fields: {
                inputs: {keyType: 'string', type: 'TensorInfo', id: 1},
                outputs: {keyType: 'string', type: 'TensorInfo', id: 2},
                method_name: {type: 'string', id: 3},
              },
            },
            SignatureDefMap: {fields: {signature_def: {keyType: 'string', type: 'SignatureDef', id: 1}}},
          },
        },
      },
    },
  },
}
const TF_SERVING_WIRE = protobuf.Root.fromJSON(WIRE_DESCRIPTOR as protobuf.INamespace)

const DT_FLOAT = 1
const STATE_AVAILABLE = 30
const IMAGE_COUNT = 2
const TO_OBJECT = {longs: Number, enums: Number, defaults: true}

const wireType = (name: string) => TF_SERVING_WIRE.lookupType(`tensorflow.serving.${name}`)

let core: TestServingCore
let server: GrpcServer
let generic: grpc.Client
let images: Float32Array

/** Sends `request` encoded as `requestType` to `path` and decodes the raw answer as `responseType`. */
function rawUnary(path: string, requestType: string, request: object, responseType: string): Promise<ReturnType<protobuf.Type['toObject']>> {
  const bytes = Buffer.from(wireType(requestType).encode(wireType(requestType).fromObject(request)).finish())
  return new Promise((resolve, reject) => {
    generic.makeUnaryRequest(
      path,
      (message: Buffer) => message,
      (message: Buffer) => message,
      bytes,
      (error, response) => {
        if (error) reject(error)
        else resolve(wireType(responseType).toObject(wireType(responseType).decode(response!), TO_OBJECT))
      },
    )
  })
}

beforeAll(async () => {
  await selectBackend('auto')
  images = loadMnistSplit('test', undefined, IMAGE_COUNT).images
  core = new TestServingCore()
  server = await startGrpcServer(core, {host: '127.0.0.1', port: 0})
  generic = new grpc.Client(server.address, grpc.credentials.createInsecure())
})

afterAll(async () => {
  generic?.close()
  await server?.shutdown()
  core?.dispose()
})

const shape = (...sizes: number[]) => ({dim: sizes.map((size) => ({size}))})

describe('wire compatibility with TF Serving clients (hand-declared field numbers, raw bytes)', () => {
  it('Predict with tensor_content, as tf.make_tensor_proto writes it, answers the core\'s logits in float_val', async () => {
    const direct = await core.predict({modelName: TEST_MODEL_NAME, images, count: IMAGE_COUNT})
    const response = await rawUnary(
      '/tensorflow.serving.PredictionService/Predict',
      'PredictRequest',
      {
        model_spec: {name: 'mnist', signature_name: 'serving_default'},
        inputs: {x_input: {dtype: DT_FLOAT, tensor_shape: shape(IMAGE_COUNT, 28, 28), tensor_content: Buffer.from(images.buffer, images.byteOffset, images.byteLength)}},
      },
      'PredictResponse',
    )
    const output = response.outputs.y_output
    expect(output.dtype).toBe(DT_FLOAT)
    expect(output.tensor_shape.dim.map((dim: {size: number}) => dim.size)).toEqual([IMAGE_COUNT, 10])
    expect(output.float_val).toEqual(Array.from(direct.logits))
    expect(response.model_spec).toMatchObject({name: 'mnist', version: {value: TEST_VERSION}, signature_name: 'serving_default'})
  })

  it('Predict with packed and with unpacked float_val, and a pinned Int64Value version, gives the same logits', async () => {
    const direct = await core.predict({modelName: TEST_MODEL_NAME, images, count: IMAGE_COUNT})
    for (const requestType of ['PredictRequest', 'UnpackedPredictRequest']) {
      const response = await rawUnary(
        '/tensorflow.serving.PredictionService/Predict',
        requestType,
        {
          model_spec: {name: 'mnist', version: {value: TEST_VERSION}},
          inputs: {x_input: {dtype: DT_FLOAT, tensor_shape: shape(IMAGE_COUNT, 784), float_val: Array.from(images)}},
        },
        'PredictResponse',
      )
      expect(response.outputs.y_output.float_val, requestType).toEqual(Array.from(direct.logits))
      expect(response.model_spec.version.value).toBe(TEST_VERSION)
    }
  })

  it('GetModelMetadata packs a tensorflow.serving.SignatureDefMap into google.protobuf.Any', async () => {
    const response = await rawUnary(
      '/tensorflow.serving.PredictionService/GetModelMetadata',
      'GetModelMetadataRequest',
      {model_spec: {name: 'mnist'}, metadata_field: ['signature_def']},
      'GetModelMetadataResponse',
    )
    expect(response.model_spec).toMatchObject({name: 'mnist', version: {value: TEST_VERSION}})
    const any = response.metadata.signature_def
    expect(any.type_url).toBe('type.googleapis.com/tensorflow.serving.SignatureDefMap')
    const map = wireType('SignatureDefMap').toObject(wireType('SignatureDefMap').decode(any.value), TO_OBJECT)
    const signature = map.signature_def.serving_default
    expect(signature.method_name).toBe('tensorflow/serving/predict')
    expect(signature.inputs.x_input).toEqual({name: 'x_input', dtype: DT_FLOAT, tensor_shape: {dim: [{size: -1, name: ''}, {size: 28, name: ''}, {size: 28, name: ''}], unknown_rank: false}})
    expect(signature.outputs.y_output.tensor_shape.dim.map((dim: {size: number}) => dim.size)).toEqual([-1, 10])
  })

  it('ModelService/GetModelStatus answers state AVAILABLE (30) with error_code OK (0)', async () => {
    const response = await rawUnary('/tensorflow.serving.ModelService/GetModelStatus', 'GetModelStatusRequest', {model_spec: {name: 'mnist'}}, 'GetModelStatusResponse')
    expect(response.model_version_status).toEqual([{version: TEST_VERSION, state: STATE_AVAILABLE, status: {error_code: 0, error_message: ''}}])
  })

  it('a method TF Serving has but mnist-rnn does not serve (Classify) is UNIMPLEMENTED', async () => {
    const error = await rawUnary('/tensorflow.serving.PredictionService/Classify', 'GetModelStatusRequest', {}, 'GetModelStatusResponse').catch((e) => e)
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED)
  })
})

/**
 * A stand-in gRPC server for bench/serve-grpc.ts while `mnist-rnn serve --grpc-port` is not
 * there to start: the real gRPC service over a minimal core that runs one forward pass of a
 * 128-unit classifier per request (no batching queue). Prints `port N` once listening.
 */
import * as tf from '@tensorflow/tfjs'

import {selectBackend} from '../src/lib/backend.js'
import {DEFAULT_SIGNATURE_NAME, servingDefaultSignature} from '../src/lib/export/format.js'
import {classifierLogits} from '../src/lib/model/classifier.js'
import {DEFAULT_HIDDEN_UNITS, IMAGE_COLS, IMAGE_ROWS, createClassifierWeights} from '../src/lib/model/weights.js'
import {startGrpcServer} from '../src/lib/serving/grpc-service.js'
import {ModelMetadata, PredictRequest, PredictResult, ServingCore, ServingError} from '../src/lib/serving/types.js'

const MODEL_NAME = 'mnist'
const VERSION = 1

await selectBackend('auto')
const weights = createClassifierWeights(DEFAULT_HIDDEN_UNITS, 1)
const signatureJson = servingDefaultSignature()
const signatures = {[DEFAULT_SIGNATURE_NAME]: {methodName: signatureJson.method_name, inputs: signatureJson.inputs, outputs: signatureJson.outputs}}

function checkModel(name: string, version?: number): void {
  if (name !== MODEL_NAME || (version !== undefined && version !== VERSION)) throw new ServingError('NOT_FOUND', `no model ${name} version ${version}`)
}

const core: ServingCore = {
  async predict(request: PredictRequest): Promise<PredictResult> {
    checkModel(request.modelName, request.version)
    const logits = tf.tidy(() => classifierLogits(weights, tf.tensor3d(request.images, [request.count, IMAGE_ROWS, IMAGE_COLS])).dataSync() as Float32Array)
    return {modelName: MODEL_NAME, version: VERSION, logits}
  },
  metadata(name: string, version?: number): ModelMetadata {
    checkModel(name, version)
    return {modelName: MODEL_NAME, version: VERSION, signatures}
  },
  status(name: string, version?: number) {
    checkModel(name, version)
    return [{version: VERSION, state: 'AVAILABLE', errorMessage: ''}]
  },
}

const server = await startGrpcServer(core, {host: '127.0.0.1', port: Number(process.argv[2] ?? 0)})
console.log(`port ${server.port}`)
process.on('SIGTERM', () => void server.shutdown(1000).then(() => process.exit(0)))

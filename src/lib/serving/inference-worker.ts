import {parentPort, workerData} from 'node:worker_threads'

import {selectBackend} from '../backend.js'
import {errorMessage} from '../errors.js'
import {ModelRunner} from './model-runner.js'
import {InferenceWorkerData, WorkerReply, WorkerRequest} from './worker-messages.js'

/**
 * An inference worker thread: holds the loaded versions and runs forward passes, one message at
 * a time in arrival order (so an unload never overtakes a batch sent before it).
 */
const {backend, warmBatchSize} = workerData as InferenceWorkerData
const port = parentPort!
await selectBackend(backend)
const runner = new ModelRunner(warmBatchSize)

function handle(request: WorkerRequest): void {
  try {
    switch (request.type) {
      case 'load':
        runner.load(request.model)
        return reply({id: request.id, ok: true, numTensors: runner.numTensors})
      case 'unload':
        runner.unload(request.version)
        return reply({id: request.id, ok: true, numTensors: runner.numTensors})
      case 'run': {
        const logits = runner.run(request.version, request.images, request.count)
        return reply({id: request.id, ok: true, logits, numTensors: runner.numTensors}, [logits.buffer as ArrayBuffer])
      }
    }
  } catch (error) {
    reply({id: request.id, ok: false, error: errorMessage(error).split('\n')[0], numTensors: runner.numTensors})
  }
}

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer)
}

port.on('message', handle)

import {parentPort, workerData} from 'node:worker_threads'

import {selectBackend} from '../../backend.js'
import {errorMessage} from '../../core/errors.js'
import {ModelRunner} from './model-runner.js'
import {InferenceWorkerData, WorkerMessage, WorkerRequest} from './messages.js'

/**
 * An inference worker thread: chooses its backend, then holds the loaded versions and runs
 * forward passes, one message at a time in arrival order (so an unload never overtakes a batch
 * sent before it).
 */
const {backend: choice, warmBatchSize} = workerData as InferenceWorkerData
const port = parentPort!

function send(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer)
}

const runner = new ModelRunner(warmBatchSize)

function handle(request: WorkerRequest): void {
  const {id} = request
  try {
    switch (request.type) {
      case 'load':
        runner.load(request.model)
        return send({type: 'reply', id, ok: true, numTensors: runner.numTensors})
      case 'unload':
        runner.unload(request.version)
        return send({type: 'reply', id, ok: true, numTensors: runner.numTensors})
      case 'run': {
        const logits = runner.run(request.version, request.images, request.count)
        return send({type: 'reply', id, ok: true, logits, numTensors: runner.numTensors}, [logits.buffer as ArrayBuffer])
      }
    }
  } catch (error) {
    send({type: 'reply', id, ok: false, error: errorMessage(error).split('\n')[0], numTensors: runner.numTensors})
  }
}

// A worker whose backend fails says why and waits for the pool to end it.
try {
  const backend = await selectBackend(choice)
  port.on('message', handle)
  send({type: 'ready', backend})
} catch (error) {
  send({type: 'failed', error: errorMessage(error).split('\n')[0]})
}

import {parentPort, workerData} from 'node:worker_threads'

import {selectBackend} from '../../backend.js'
import {errorMessage} from '../../core/errors.js'
import {importOnnxRuntime} from '../../export/engines/onnxruntime.js'
import {ModelRunner} from './model-runner.js'
import {InferenceWorkerData, WorkerMessage, WorkerRequest} from './messages.js'

/**
 * An inference worker thread: sets up its engine (the tfjs engine chooses its TF.js backend;
 * onnxruntime loads onnxruntime-node), then holds the loaded versions and runs forward passes,
 * one message at a time in arrival order (so an unload never overtakes a batch sent before it).
 */
const {engine, backend: choice, engineOptions, warmBatchSize} = workerData as InferenceWorkerData
const port = parentPort!

function send(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer)
}

const runner = new ModelRunner(warmBatchSize, engineOptions)

async function handle(request: WorkerRequest): Promise<void> {
  const {id} = request
  try {
    switch (request.type) {
      case 'load':
        await runner.load(request.payload)
        return send({type: 'reply', id, ok: true, numTensors: runner.numTensors})
      case 'unload':
        await runner.unload(request.version)
        return send({type: 'reply', id, ok: true, numTensors: runner.numTensors})
      case 'run': {
        const logits = await runner.run(request.version, request.images, request.count)
        return send({type: 'reply', id, ok: true, logits, numTensors: runner.numTensors}, [logits.buffer as ArrayBuffer])
      }
    }
  } catch (error) {
    send({type: 'reply', id, ok: false, error: errorMessage(error).split('\n')[0], numTensors: runner.numTensors})
  }
}

// Engines run passes asynchronously (ONNX Runtime's run is a promise); the chain keeps arrival order.
let queue = Promise.resolve()

// A worker whose engine fails says why and waits for the pool to end it.
try {
  const backend = engine === 'tfjs' ? await selectBackend(choice) : undefined
  if (engine === 'onnxruntime') await importOnnxRuntime()
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(() => handle(request))
  })
  send({type: 'ready', backend})
} catch (error) {
  send({type: 'failed', error: errorMessage(error).split('\n')[0]})
}

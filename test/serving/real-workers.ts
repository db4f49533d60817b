import {EventEmitter} from 'node:events'

import {InferenceWorker, StartInferenceWorker, startInferenceWorker} from '../../src/lib/serving/inference/pool.js'
import {WorkerRequest} from '../../src/lib/serving/inference/messages.js'

/** Real inference worker threads, kept so that a test can end one as a crash would (`terminate`). */
export function trackedWorkers(): {started: InferenceWorker[]; start: StartInferenceWorker} {
  const started: InferenceWorker[] = []
  return {
    started,
    start: (workerData) => {
      const worker = startInferenceWorker(workerData)
      started.push(worker)
      return worker
    },
  }
}

/**
 * A real inference worker thread that dies, as a crashed thread does, when it is sent a batch
 * whose first pixel is `poison` (no real MNIST image has a top-left pixel other than 0).
 */
class PoisonableWorker extends EventEmitter implements InferenceWorker {
  constructor(
    private readonly worker: InferenceWorker,
    private readonly poison: number,
  ) {
    super()
    worker.on('message', (message) => this.emit('message', message))
    worker.on('error', (error) => this.emit('error', error))
    worker.on('exit', (code) => this.emit('exit', code))
  }

  postMessage(message: WorkerRequest): void {
    if (message.type === 'run' && message.images[0] === this.poison) void this.worker.terminate()
    else this.worker.postMessage(message)
  }

  terminate(): Promise<number> {
    return this.worker.terminate()
  }
}

export function poisonableWorkers(poison: number): StartInferenceWorker {
  return (workerData) => new PoisonableWorker(startInferenceWorker(workerData), poison)
}

import {Trainer} from './trainer.js'

/** Shell convention: 128 + the signal's number. */
export const SIGNAL_EXIT_CODES = {SIGINT: 130, SIGTERM: 143} as const
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES

export interface SignalStop {
  /** The first signal received, if any. */
  received(): StopSignal | undefined
  dispose(): void
}

/**
 * SIGINT/SIGTERM ask the trainer to stop after the step in progress (it then saves a checkpoint).
 * A second signal exits at once: checkpoints are written atomically, so that is safe too.
 */
export function stopTrainingOnSignals(trainer: Trainer): SignalStop {
  let received: StopSignal | undefined
  const handlers = new Map<StopSignal, () => void>()
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]) {
    const handler = () => {
      if (received) process.exit(SIGNAL_EXIT_CODES[signal])
      received = signal
      trainer.requestStop(signal)
    }
    handlers.set(signal, handler)
    process.on(signal, handler)
  }
  return {
    received: () => received,
    dispose: () => {
      for (const [signal, handler] of handlers) process.off(signal, handler)
    },
  }
}

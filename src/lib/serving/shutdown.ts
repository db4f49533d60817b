/** The signals that ask `serve` to drain and stop; a second one stops at once. */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number]

/** Shell convention for a process ended by a signal it did not handle gracefully: 128 + its number. */
const FORCED_EXIT_CODE = 130

/**
 * Resolves with the first SIGTERM or SIGINT. A second signal while draining exits immediately
 * (after `onForce` says so), for an operator who does not want to wait.
 */
export function waitForShutdownSignal(onForce: (signal: ShutdownSignal) => void): Promise<ShutdownSignal> {
  return new Promise((resolve) => {
    let received = false
    for (const signal of SHUTDOWN_SIGNALS) {
      process.on(signal, () => {
        if (received) {
          onForce(signal)
          process.exit(FORCED_EXIT_CODE)
        }
        received = true
        resolve(signal)
      })
    }
  })
}

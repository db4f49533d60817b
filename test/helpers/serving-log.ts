import {ServingLog} from '../../src/lib/serving/api.js'

/** A ServingLog that keeps what it is told: every message in order, and the warnings and errors apart. */
export function recordingLog(): {log: ServingLog; lines: string[]; warnings: string[]; errors: string[]} {
  const lines: string[] = []
  const warnings: string[] = []
  const errors: string[] = []
  return {
    lines,
    warnings,
    errors,
    log: {
      info: (message) => lines.push(message),
      warn: (message) => (lines.push(message), warnings.push(message)),
      error: (message) => (lines.push(message), errors.push(message)),
    },
  }
}
